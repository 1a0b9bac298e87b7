"""The log aggregation pushed down to PostgreSQL: the same SQL text as DuckDB's.

The tables hold the typed columns the SQL reads (see `sql/sufficient_stats.sql`):
predictions `(ts timestamptz, request_id text, user_id text, variant text, experiment
text)` and events `(ts timestamptz, user_id text, type text, request_id text, value double
precision)`. Only a few numbers per variant come back over the wire.
"""

from collections.abc import Sequence

from modelrail.ab.aggregate import Aggregation, LogStats, collect
from modelrail.plumbing import postgres

PREDICTION_COLUMNS = ("ts", "request_id", "user_id", "variant", "experiment")
EVENT_COLUMNS = ("ts", "user_id", "type", "request_id", "value")


def run_on_postgres(dsn: str, predictions: str, events: str, variants: Sequence[str],
                    aggregation: Aggregation | None = None) -> LogStats:
    """Aggregate the tables `predictions` and `events` (names, quoted as identifiers)."""
    aggregation = aggregation or Aggregation()
    with postgres.connect(dsn) as connection:
        prediction_rows = postgres.table_rows(connection, predictions, PREDICTION_COLUMNS)
        event_rows = postgres.table_rows(connection, events, EVENT_COLUMNS)
        return collect(
            postgres.engine(connection), (predictions, events), variants, aggregation,
            sources=(f"table {predictions}", f"table {events}"),
            data={"predictions": predictions, "events": events,
                  "prediction_rows": prediction_rows, "event_rows": event_rows,
                  "attribution_window_seconds": aggregation.window_seconds})
