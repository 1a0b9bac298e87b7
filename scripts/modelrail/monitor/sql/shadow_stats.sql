-- shadow analyze: the shadow lines (of one version, or all when it is NULL) paired with the
-- production lines they shadow on (request id, row), and over the pairs: the decision
-- agreement at the threshold, the score correlation, and the largest gap between the two
-- empirical distributions (a sort and a running sum; divided by the pairs: the KS
-- distance). `{log}` has the typed columns request_id, line, prediction, is_shadow,
-- shadow_of and version.
-- Binds, in order: the version twice, the decision threshold twice.
WITH shadow_lines AS (
    SELECT request_id, line, prediction, shadow_of
    FROM {log} AS l
    WHERE is_shadow
      AND (CAST({param} AS {text}) IS NULL OR version = CAST({param} AS {text}))
),
pairs AS (
    SELECT p.prediction AS production, s.prediction AS shadow
    FROM shadow_lines AS s JOIN {log} AS p
      ON NOT p.is_shadow AND s.shadow_of = p.request_id AND s.line = p.line
),
both_sides AS (
    SELECT production AS x, 1 AS a, 0 AS b FROM pairs
    UNION ALL
    SELECT shadow AS x, 0 AS a, 1 AS b FROM pairs
),
grouped AS (
    SELECT x, SUM(a) AS a, SUM(b) AS b FROM both_sides GROUP BY x
),
steps AS (
    SELECT SUM(a) OVER w - SUM(b) OVER w AS gap
    FROM grouped
    WINDOW w AS (ORDER BY x NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
paired AS (
    SELECT COUNT(*) AS pairs,
           AVG(CASE WHEN (production >= {param}) = (shadow >= {param})
                    THEN CAST(1 AS {double}) ELSE CAST(0 AS {double}) END) AS agreement,
           CORR(production, shadow) AS correlation
    FROM pairs
)
SELECT p.pairs, p.agreement, p.correlation, k.gap, s.shadow_rows
FROM paired AS p
CROSS JOIN (SELECT MAX(ABS(gap)) AS gap FROM steps) AS k
CROSS JOIN (SELECT COUNT(*) AS shadow_rows FROM shadow_lines) AS s
