"""`ab analyze`, `monitor` and `shadow analyze` with `--engine spark` against a Spark
Connect server (pyspark's own, local[2]): the URL from SPARK_REMOTE, the logs read by the
server, the same decision as DuckDB's, the statistics over time (`--report`) computed
there too."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from modelrail.cli.main import main

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import analysis_dir, write_jsonl, write_logs, write_parquet
from tests.support.builders.monitor_logs import BOTH_POLICY, monitor_logs, monitor_reference
from tests.support.services.spark_connect import spark_connect_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (apt-get install openjdk-17-jre-headless)")
    with spark_connect_server(tmp_path_factory.mktemp("spark-connect")) as url:
        yield url


def test_the_cli_aggregates_on_a_connect_server_as_duckdb_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connect_url: str) -> None:
    workdir = analysis_dir(tmp_path, monkeypatch)
    write_logs(workdir, PREDICTIONS, EVENTS)
    parquet = write_logs(workdir, PREDICTIONS, EVENTS, "parquet")
    monkeypatch.setenv("SPARK_REMOTE", connect_url)

    remote = main(["ab", "analyze", "--engine", "spark", "--predictions", str(parquet[0]),
                   "--events", str(parquet[1]), "--json", "spark.json", "--report",
                   "report.html", "--no-summary"])
    embedded = main(["ab", "analyze", "--predictions", "predictions.jsonl", "--events",
                     "events.jsonl", "--json", "duckdb.json", "--no-summary"])

    assert remote == embedded
    on_spark, in_duckdb = (json.loads((workdir / name).read_text(encoding="utf-8"))
                           for name in ("spark.json", "duckdb.json"))
    for key in ("decision", "srm"):
        assert on_spark[key] == in_duckdb[key]
    assert on_spark["metrics"]["ctr"]["lift"] == pytest.approx(
        in_duckdb["metrics"]["ctr"]["lift"], rel=1e-9)
    for key in ("prediction_rows", "event_rows", "multi_variant_users"):
        assert on_spark["data"][key] == in_duckdb["data"][key]
    html = (workdir / "report.html").read_text(encoding="utf-8")
    assert "ctr: cumulative lift (%)" in html  # the checkpoints ran on the server


def test_monitor_and_shadow_run_on_a_connect_server_as_on_duckdb(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connect_url: str) -> None:
    """The reference grid reaches the server as a temporary view (Spark Connect's
    createDataFrame), the logs are read there, and the verdicts are DuckDB's."""
    workdir = analysis_dir(tmp_path, monkeypatch, BOTH_POLICY)
    monitor_reference(workdir / "reference.csv", 9)
    lines, events = monitor_logs(6)
    files = (write_jsonl(workdir / "p.jsonl", lines), write_jsonl(workdir / "e.jsonl", events))
    parquet = (write_parquet(workdir / "p.parquet", lines),
               write_parquet(workdir / "e.parquet", events))
    monkeypatch.setenv("SPARK_REMOTE", connect_url)

    codes = [main(["monitor", "--reference", "reference.csv", *source, "--json",
                   f"monitor-{name}.json", "--no-summary"])
             for name, source in (("spark", ["--engine", "spark", "--current", str(parquet[0]),
                                             "--events", str(parquet[1])]),
                                  ("duckdb", ["--current", str(files[0]), "--events",
                                              str(files[1])]))]
    codes += [main(["shadow", "analyze", *source, "--json", f"shadow-{name}.json"])
              for name, source in (("spark", ["--engine", "spark", "--predictions",
                                              str(parquet[0])]),
                                   ("duckdb", ["--predictions", str(files[0])]))]

    assert codes[0] == codes[1]
    assert codes[2] == codes[3]
    for kind, values in (("monitor", "statistic"), ("shadow", "value")):
        on_spark, in_duckdb = (json.loads((workdir / f"{kind}-{name}.json").read_text())
                               for name in ("spark", "duckdb"))
        assert [check[values] for check in on_spark["checks"]] == pytest.approx(
            [check[values] for check in in_duckdb["checks"]], rel=1e-9)
