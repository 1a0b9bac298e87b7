-- shadow analyze: the first versions of the shadow lines, when none was of the version asked.
SELECT DISTINCT version
FROM {log} AS l
WHERE is_shadow AND version IS NOT NULL
ORDER BY version
LIMIT 5
