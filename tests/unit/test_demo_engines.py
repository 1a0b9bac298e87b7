"""demo/engines.py's comparison of an engine's result with DuckDB's: the monitor stage
fails on what it reports, so it must report a real difference and only that."""

import uuid
from pathlib import Path
from typing import Any

import duckdb

from demo.engines import FileRun, compare, differences
from tests.support.builders.ab_logs import jsonl_as_parquet, write_jsonl

CHECK = {"name": "price", "psi": 0.812345678901, "severity": "major", "reference": {"a": 0.5}}
DUCKDB = {"current_rows": 2400, "severity": "major", "action": "rollback", "breach": True,
          "current": "predictions.jsonl", "checks": [CHECK]}
RUN = FileRun("monitor_drift", "monitor, prices x2.5", ("monitor",), (),
              {"--current": Path("p.jsonl")}, 1, DUCKDB)


def on_engine(**changes: object) -> dict[str, Any]:
    """DuckDB's result as another engine's: read from a table, the check changed."""
    return {**DUCKDB, "current": "table monitor_drift_current", "checks": [{**CHECK, **changes}]}


def test_the_same_result_from_another_source_differs_nowhere() -> None:
    assert compare(RUN, 1, on_engine(psi=0.812345678901 * (1 + 1e-12))) == []


def test_a_statistic_beyond_1e_9_a_verdict_and_an_exit_code_are_named() -> None:
    assert compare(RUN, 1, on_engine(psi=0.8124)) == [
        "checks[0].psi: 0.8124 vs 0.812345678901"]
    assert compare(RUN, 0, on_engine(severity=None)) == [
        "exit 0", "checks[0].severity: None vs 'major'"]


def test_missing_keys_and_items_are_named() -> None:
    assert differences("checks", [{"a": 1}], [{"a": 1}, {"a": 2}]) == [
        "checks: 1 items vs 2"]
    assert differences("c", {"a": 1}, {"a": 1, "b": 2}) == ["c: keys ['a'] vs ['a', 'b']"]
    assert differences("flag", True, 1.0) == ["flag: True vs 1.0"]


def test_uuid_request_ids_stay_text_in_the_parquet_spark_reads(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "p.jsonl", [
        {"timestamp": "2026-01-01T12:00:00+00:00", "request_id": str(uuid.uuid4())}])
    as_read = duckdb.read_json(str(log), format="newline_delimited")
    assert dict(zip(as_read.columns, map(str, as_read.types), strict=True))[
        "request_id"] == "UUID"

    parquet = duckdb.read_parquet(str(jsonl_as_parquet(log, tmp_path / "p.parquet")))

    assert dict(zip(parquet.columns, map(str, parquet.types), strict=True)) == {
        "timestamp": "TIMESTAMP WITH TIME ZONE", "request_id": "VARCHAR"}
