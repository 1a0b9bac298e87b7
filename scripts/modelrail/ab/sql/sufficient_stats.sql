-- Per-variant sufficient statistics from prediction logs and business events.
--
-- The SQL the three engines share: it runs unchanged on DuckDB, PostgreSQL and Spark. The
-- caller formats in the two relation names (identifiers it quotes), the driver's bind
-- placeholder and the dialect's names of three types (text, double, timestamp); see
-- modelrail/plumbing/sql_engine.py. The values are bound, in this order: the attribution
-- window in seconds, the experiment key (or NULL: every experiment), then the
-- checkpoints of over_time.sql.
-- No comment here may hold braces or a percent sign: the text is a format template.
-- This file ends with the attributed clicks; the tail placeholder is one of the files
-- that sum them up: per_variant.sql (all the data) or over_time.sql (every checkpoint).
--
-- Inputs, already typed:
--   predictions(ts TIMESTAMP WITH TIME ZONE, request_id VARCHAR, user_id VARCHAR,
--               variant VARCHAR, experiment VARCHAR NULL)   -- one row per impression
--   events(ts TIMESTAMP WITH TIME ZONE, user_id VARCHAR, type VARCHAR,
--          request_id VARCHAR NULL, value DOUBLE PRECISION NULL)
--
-- Semantics:
--   exposure     the user's first prediction row (by ts, then request_id, a row without
--                one last: the engines' defaults differ) decides the
--                variant; users logged under several variants keep that first variant
--                and are counted in multi_variant_users;
--   impressions  every prediction row of the user (all are at or after the first);
--   clicks       a click event is anchored to the prediction request it names
--                (request_id), or without one to the user's latest impression at or
--                before it; it counts when anchor <= click <= anchor + window (both ends
--                inclusive), once at most;
--   duration     the sum of the user's session_end values at or after the first exposure;
--   converted    the user has at least one attributed click.
-- Every exposed user is a unit: users without clicks or sessions contribute zeros.
WITH params AS (
    SELECT CAST({param} AS {double}) AS window_seconds,
           CAST({param} AS {text}) AS experiment
),
impressions AS (
    SELECT p.ts, p.request_id, p.user_id, p.variant
    FROM {predictions} AS p CROSS JOIN params
    WHERE p.user_id IS NOT NULL AND p.variant IS NOT NULL AND p.ts IS NOT NULL
      AND (params.experiment IS NULL OR p.experiment IS NULL
           OR p.experiment = params.experiment)
),
ranked AS (
    SELECT user_id, variant, ts,
           ROW_NUMBER() OVER (PARTITION BY user_id
                              ORDER BY ts, request_id NULLS LAST,
                                       variant) AS exposure
    FROM impressions
),
per_user_rows AS (
    SELECT user_id, COUNT(*) AS impressions, COUNT(DISTINCT variant) AS variants
    FROM impressions
    GROUP BY user_id
),
units AS (
    SELECT r.user_id, r.variant, r.ts AS first_ts, u.impressions,
           CASE WHEN u.variants > 1 THEN 1 ELSE 0 END AS multi_variant
    FROM ranked AS r JOIN per_user_rows AS u ON u.user_id = r.user_id
    WHERE r.exposure = 1
),
clicks AS (
    SELECT e.ts, e.user_id, e.request_id
    FROM {events} AS e
    WHERE e.type = 'click' AND e.user_id IS NOT NULL AND e.ts IS NOT NULL
),
requests AS (
    SELECT user_id, request_id, MIN(ts) AS ts
    FROM impressions
    GROUP BY user_id, request_id
),
timeline AS (
    SELECT user_id, ts, 0 AS kind FROM impressions
    UNION ALL
    SELECT user_id, ts, 1 AS kind FROM clicks WHERE request_id IS NULL
),
latest AS (
    SELECT kind, user_id, ts,
           MAX(CASE WHEN kind = 0 THEN ts END) OVER (
               PARTITION BY user_id ORDER BY ts, kind
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS anchor
    FROM timeline
),
anchored AS (
    SELECT user_id, ts, anchor FROM latest WHERE kind = 1
    UNION ALL
    SELECT c.user_id, c.ts, r.ts AS anchor
    FROM clicks AS c
    JOIN requests AS r ON r.user_id = c.user_id AND r.request_id = c.request_id
),
attributed_clicks AS (
    SELECT a.user_id, a.ts
    FROM anchored AS a CROSS JOIN params
    WHERE a.anchor IS NOT NULL AND a.ts >= a.anchor
      AND a.ts <= a.anchor + params.window_seconds * INTERVAL '1 second'
),
{tail}
