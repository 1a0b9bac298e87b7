"""Prediction logs and events as rows, written as JSON lines, CSV or Parquet."""

import csv
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

Row = Mapping[str, object]
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """The ISO timestamp `seconds` after START, as the prediction log writes it."""
    return (START + timedelta(seconds=seconds)).isoformat()


def write_jsonl(path: Path, rows: Sequence[Row]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: Sequence[Row]) -> Path:
    fields = list(dict.fromkeys(name for row in rows for name in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: Sequence[Row]) -> Path:
    source = write_jsonl(path.with_suffix(".tmp.jsonl"), rows)
    jsonl_as_parquet(source, path)
    source.unlink()
    return path


def jsonl_as_parquet(source: Path, path: Path) -> Path:
    """The JSON lines log `source` as Parquet at `path`, through DuckDB, so the timestamps
    are Parquet timestamps, and ids DuckDB takes for UUIDs stay text (Spark reads no
    Parquet UUID: PARQUET_TYPE_ILLEGAL)."""
    with duckdb.connect() as connection:
        relation = connection.read_json(str(source), format="newline_delimited")
        kinds = dict(zip(relation.columns, map(str, relation.types), strict=True))
        relation.select(f"*{uuids_as_text(kinds)}").write_parquet(str(path))
    return path


def uuids_as_text(kinds: Mapping[str, str]) -> str:
    """The `REPLACE (...)` of a DuckDB `SELECT *` that keeps each column DuckDB took for a
    UUID (a uuid4 request id) as the text it was logged as; `kinds`: column -> DuckDB
    type. Empty when there is none."""
    uuids = [f'CAST("{column}" AS VARCHAR) AS "{column}"'
             for column, kind in kinds.items() if kind == "UUID"]
    return f" REPLACE ({', '.join(uuids)})" if uuids else ""


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


def write_logs(directory: Path, predictions: Sequence[Row], events: Sequence[Row],
               fmt: str = "jsonl") -> tuple[Path, Path]:
    write = WRITERS[fmt]
    return (write(directory / f"predictions.{fmt}", predictions),
            write(directory / f"events.{fmt}", events))


# The experiment the log-based tests analyse: CTR primary, session duration guardrail.
LOGS_POLICY = """\
model: ranker
experiment:
  key: ranker-v2
  primary: ctr
  guardrails:
    session_duration: {margin: 0.02}
  metrics:
    ctr: {type: ratio}
"""


def simulated_logs(directory: Path, *, users: int, hours: float, ctr: tuple[float, float],
                   seed: int, experiment: str = "ranker-v2") -> tuple[Path, Path]:
    """Users split 50/50 by `modelrail.ab.assign`, each first seen at a uniform time within
    `hours`, with 1-8 impressions over the next ten minutes; each impression is clicked
    (naming its request, within a minute) with its variant's CTR; one session per user."""
    import numpy as np
    from modelrail.ab import assign

    rng = np.random.default_rng(seed)
    predictions: list[Row] = []
    events: list[Row] = []
    for index in range(users):
        user = f"user-{index}"
        arm = assign(experiment, user, [0.5, 0.5])
        assert arm is not None
        first = float(rng.uniform(0, hours * 3600))
        shown = first + np.sort(rng.uniform(0, 600, int(rng.integers(1, 9))))
        for row, seconds in enumerate(shown):
            request = f"{user}-{row}"
            predictions.append({"timestamp": at(seconds), "request_id": request,
                                "user_id": user, "experiment": experiment,
                                "variant": ("control", "treatment")[arm]})
            if rng.random() < ctr[arm]:
                events.append({"timestamp": at(seconds + float(rng.uniform(1, 60))),
                               "user_id": user, "type": "click", "request_id": request,
                               "value": 1.0})
        events.append({"timestamp": at(float(shown[-1]) + 30), "user_id": user,
                       "type": "session_end", "request_id": None,
                       "value": float(rng.gamma(4, 75))})
    return write_logs(directory, predictions, events)


def analysis_dir(directory: Path, monkeypatch: Any, policy: str = LOGS_POLICY) -> Path:
    """`directory` as the working directory of `ab analyze` with `policy`, outside a
    runner (no GITHUB_* files); `monkeypatch` is pytest's."""
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(directory)
    (directory / "modelrail.yaml").write_text(policy, encoding="utf-8")
    return directory
