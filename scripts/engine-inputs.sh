# shellcheck shell=bash
# Sourced by the actions that aggregate logs (ab-test, monitor, shadow-analyze):
# `engine_flags` sets the array `engine_args` from the warehouse and engine inputs, passed
# as POSTGRES_DSN, ENGINE and SPARK_MASTER. The DSN is a secret: modelrail reads it from
# the step's environment variable POSTGRES_DSN, which `--postgres-dsn-env` names, so it is
# never on a command line (where `ps` and an echoed command would show it). The table names
# are each action's own flags. DuckDB, the default engine, needs no flag.
engine_flags() {
  engine_args=()
  if [ -n "${ENGINE:-}" ] && [ "$ENGINE" != duckdb ]; then engine_args+=(--engine "$ENGINE"); fi
  if [ -n "${POSTGRES_DSN:-}" ]; then engine_args+=(--postgres-dsn-env POSTGRES_DSN); fi
  if [ -n "${SPARK_MASTER:-}" ]; then engine_args+=(--spark-master "$SPARK_MASTER"); fi
}
