-- The sums of the per-user numbers the engine needs (per_variant.sql, over_time.sql).
       SUM(clicks) AS clicks_sum,
       SUM(clicks * clicks) AS clicks_sum_squares,
       SUM(impressions) AS impressions_sum,
       SUM(impressions * impressions) AS impressions_sum_squares,
       SUM(clicks * impressions) AS clicks_impressions_sum_products,
       SUM(duration) AS duration_sum,
       SUM(duration * duration) AS duration_sum_squares,
       SUM(CASE WHEN clicks > 0 THEN 1 ELSE 0 END) AS converted
