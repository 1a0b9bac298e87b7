-- monitor: a categorical feature of a log, counted per category (its values as text).
SELECT category, COUNT(*) AS n
FROM (SELECT CAST({feature} AS {text}) AS category FROM {log} AS l) AS v
WHERE category IS NOT NULL
GROUP BY category
