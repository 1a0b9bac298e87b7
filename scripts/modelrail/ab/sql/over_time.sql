-- The end of sufficient_stats.sql for the statistics at every checkpoint in one pass:
-- the same numbers as per_variant.sql run on the rows logged up to each checkpoint.
-- The checkpoints are bound, three values a row (k, lo, hi): checkpoint k at time hi,
-- after lo (NULL for the first); the caller formats in the VALUES rows of markers. Why
-- one pass gives the prefix numbers: a user's first exposure, hence their variant, is
-- the same in every prefix that holds it; a click is attributed to impressions at or
-- before it, so a click by the checkpoint is attributed exactly as in all the data;
-- sessions count from the first exposure. So each user's impressions, clicks and session
-- seconds are bucketed by checkpoint, cumulated over the checkpoints from the user's
-- exposure on, and summed per variant and checkpoint.
checkpoints AS (
    SELECT c.k, CAST(c.lo AS {timestamp}) AS lo, CAST(c.hi AS {timestamp}) AS hi
    FROM (VALUES {checkpoints}) AS c (k, lo, hi)
),
increments AS (
    SELECT user_id, ts, CAST(1 AS {double}) AS impressions,
           CAST(0 AS {double}) AS clicks, CAST(0 AS {double}) AS duration
    FROM impressions
    UNION ALL
    SELECT user_id, ts, 0, 1, 0 FROM attributed_clicks
    UNION ALL
    SELECT e.user_id, e.ts, 0, 0, COALESCE(CAST(e.value AS {double}), 0)
    FROM {events} AS e JOIN units AS u ON u.user_id = e.user_id
    WHERE e.type = 'session_end' AND e.ts >= u.first_ts
),
bucketed AS (
    SELECT i.user_id, c.k, SUM(i.impressions) AS impressions, SUM(i.clicks) AS clicks,
           SUM(i.duration) AS duration
    FROM increments AS i
    JOIN checkpoints AS c ON i.ts <= c.hi AND (c.lo IS NULL OR i.ts > c.lo)
    GROUP BY i.user_id, c.k
),
grid AS (
    SELECT u.user_id, u.variant, c.k
    FROM units AS u JOIN checkpoints AS c ON u.first_ts <= c.hi
),
per_user AS (
    SELECT g.k, g.variant,
           SUM(COALESCE(b.impressions, 0)) OVER upto AS impressions,
           SUM(COALESCE(b.clicks, 0)) OVER upto AS clicks,
           SUM(COALESCE(b.duration, 0)) OVER upto AS duration
    FROM grid AS g LEFT JOIN bucketed AS b ON b.user_id = g.user_id AND b.k = g.k
    WINDOW upto AS (PARTITION BY g.user_id ORDER BY g.k
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT k, variant,
       COUNT(*) AS units,
       0 AS multi_variant_users,
       {sums}
FROM per_user
GROUP BY k, variant
ORDER BY k, variant
