-- The end of sufficient_stats.sql for one look at all the data: each exposed user's
-- impressions, attributed clicks and session seconds, summed per variant.
attributed AS (
    SELECT user_id, COUNT(*) AS clicks
    FROM attributed_clicks
    GROUP BY user_id
),
sessions AS (
    SELECT u.user_id, SUM(e.value) AS duration
    FROM {events} AS e JOIN units AS u ON u.user_id = e.user_id
    WHERE e.type = 'session_end' AND e.ts >= u.first_ts
    GROUP BY u.user_id
),
per_user AS (
    SELECT u.variant, u.multi_variant,
           CAST(u.impressions AS {double}) AS impressions,
           CAST(COALESCE(a.clicks, 0) AS {double}) AS clicks,
           CAST(COALESCE(s.duration, 0) AS {double}) AS duration
    FROM units AS u
    LEFT JOIN attributed AS a ON a.user_id = u.user_id
    LEFT JOIN sessions AS s ON s.user_id = u.user_id
)
SELECT variant,
       COUNT(*) AS units,
       SUM(multi_variant) AS multi_variant_users,
       {sums}
FROM per_user
GROUP BY variant
ORDER BY variant
