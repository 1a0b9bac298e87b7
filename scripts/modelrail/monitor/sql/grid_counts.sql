-- monitor: a numeric feature of a log counted onto the reference's grid (monitor.stats.Grid:
-- slot 0 below the grid's first value, 2i+1 on its value i, 2i+2 above value i and below
-- value i+1 or the end). The grid is a relation of values `v` (a bound VALUES list, see
-- SqlEngine.values), one chunk at a time: the log's values in [lower, upper) (a NULL
-- bound: unbounded) are merged with the chunk's values, sorted, and a running count of
-- the grid values at or below each one places it (an empty grid is one NULL value).
-- Only the slots with their counts come back.
-- Binds, in order: the chunk's values (when bound), lower twice, upper twice, the chunk's
-- first index.
WITH grid AS (SELECT v FROM {grid}),
counted AS (
    SELECT x, COUNT(*) AS n
    FROM (SELECT CAST({feature} AS {double}) AS x FROM {log} AS l) AS numbers
    WHERE x IS NOT NULL AND x <> CAST('NaN' AS {double})
      AND (CAST({param} AS {double}) IS NULL OR x >= CAST({param} AS {double}))
      AND (CAST({param} AS {double}) IS NULL OR x < CAST({param} AS {double}))
    GROUP BY x
),
merged AS (
    SELECT CAST(v AS {double}) AS x, 1 AS on_grid, 0 AS n FROM grid WHERE v IS NOT NULL
    UNION ALL
    SELECT x, 0 AS on_grid, n FROM counted
),
placed AS (
    SELECT x, on_grid, n,
           SUM(on_grid) OVER w AS at_or_below,
           MAX(CASE WHEN on_grid = 1 THEN x END) OVER w AS grid_value
    FROM merged
    WINDOW w AS (ORDER BY x, on_grid DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
slots AS (
    SELECT 2 * (CAST({param} AS BIGINT) + at_or_below)
           - CASE WHEN x = grid_value THEN 1 ELSE 0 END AS slot,
           n
    FROM placed
    WHERE on_grid = 0
)
SELECT slot, SUM(n) AS n
FROM slots
GROUP BY slot
