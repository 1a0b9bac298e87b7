-- monitor.performance: the predictions whose attribution window has closed (it ends before
-- the latest event), their rows, the clicks naming their request within [prediction,
-- prediction + window], and their mean score. Rows without a request id count, unclicked.
-- Binds, in order: the window in seconds, twice.
WITH horizon AS (
    SELECT MAX(ts) AS last_event FROM {events} AS e
),
requests AS (
    SELECT request_id, MIN(ts) AS ts, COUNT(*) AS n,
           SUM(CAST({prediction} AS {double})) AS score
    FROM {current} AS c
    GROUP BY request_id
),
closed AS (
    SELECT r.request_id, r.ts, r.n, r.score
    FROM requests AS r CROSS JOIN horizon AS h
    WHERE r.ts + {param} * INTERVAL '1 second' <= h.last_event
),
clicks AS (
    SELECT c.request_id, COUNT(*) AS clicks
    FROM closed AS c JOIN {events} AS e
      ON e.request_id = c.request_id AND e.type = 'click'
     AND e.ts >= c.ts AND e.ts <= c.ts + {param} * INTERVAL '1 second'
    GROUP BY c.request_id
)
SELECT COALESCE(SUM(c.n), 0) AS judged_rows,
       COALESCE(SUM(k.clicks), 0) AS clicks,
       COALESCE(SUM(c.score) / NULLIF(SUM(c.n), 0), 0) AS mean_score
FROM closed AS c LEFT JOIN clicks AS k ON k.request_id = c.request_id
