"""The prediction log: line format, sinks, and that the sink never slows a request."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ctr_serving.predlog import PredictionBatch, PredictionLogger


def _metric(text: str, sample_name: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name:
                return float(sample.value)
    raise AssertionError(sample_name)


def test_one_json_line_per_row_with_context(served, row) -> None:
    rows = [row, {**row, "position": 5}]
    body = served.client.post("/predict", json={
        "rows": rows, "user_id": "u-42", "experiment": "ranker-v2", "variant": "treatment",
    }).json()
    lines = served.log_lines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    for index, record in enumerate(records):
        assert list(record) == [
            "timestamp", "request_id", "row", "user_id", "experiment", "variant",
            "model", "version", "prediction", "features",
        ]
        stamp = datetime.fromisoformat(record["timestamp"])
        assert stamp.utcoffset() == timedelta(0)
        assert abs(time.time() - stamp.timestamp()) < 60
        assert record["request_id"] == body["request_id"]
        assert record["row"] == index
        assert record["user_id"] == "u-42"
        assert record["experiment"] == "ranker-v2"
        assert record["variant"] == "treatment"
        assert record["model"] == "ctr-ranker"
        assert record["version"] == "7"
        assert record["prediction"] == body["predictions"][index]
        assert record["features"] == pytest.approx(rows[index])
        assert set(record["features"]) == set(row)


def test_optional_context_is_left_out_when_absent(served, row) -> None:
    served.client.post("/predict", json={"rows": [row], "variant": "control"})
    (line,) = served.log_lines()
    record = json.loads(line)
    assert "user_id" not in record
    assert "experiment" not in record
    assert record["variant"] == "control"


def test_rejected_requests_are_not_logged(served, row) -> None:
    served.client.post("/predict", json={"rows": [{**row, "price": "x"}]})
    served.client.post("/predict", json={"rows": [row]})
    assert len(served.log_lines()) == 1


def test_file_sink_appends_lines(make_served, row, tmp_path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"earlier": true}\n')
    served = make_served(prediction_log=str(path), capture_log=False)
    served.client.post("/predict", json={"rows": [row, row, row]})
    assert served.state.logger.wait_idle(5)
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert json.loads(lines[0]) == {"earlier": True}
    assert {json.loads(line)["row"] for line in lines[1:]} == {0, 1, 2}


def test_off_disables_the_log(make_served, row) -> None:
    served = make_served(prediction_log="off", capture_log=False)
    assert served.state.logger is None
    assert served.client.post("/predict", json={"rows": [row]}).status_code == 200


def test_stdout_sink(make_served, row, capfd) -> None:
    served = make_served(prediction_log="stdout", capture_log=False)
    served.client.post("/predict", json={"rows": [row]})
    assert served.state.logger.wait_idle(5)
    out = capfd.readouterr().out.splitlines()
    assert any(json.loads(line).get("row") == 0 for line in out if line.startswith("{"))


class SlowSink:
    """Takes one second per line, like a congested log pipe, until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.release.wait(1.0)
        self.lines.append(text)

    def flush(self) -> None:
        pass


def test_a_slow_sink_never_slows_a_request(make_served, row) -> None:
    sink = SlowSink()
    served = make_served(sink=sink, prediction_log_queue_lines=40)
    try:
        latencies = []
        for _ in range(30):
            started = time.perf_counter()
            response = served.client.post("/predict", json={"rows": [row] * 5})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
        # 150 lines at 1 s each are queued or dropped; none of it reached the request path.
        assert max(latencies) < 0.5, latencies
        assert sum(latencies) < 3.0, latencies
        pending = served.state.logger.pending()
        assert 30 <= pending <= 40
        metrics = served.client.get("/metrics").text
        dropped = _metric(metrics, "modelrail_prediction_log_lines_dropped_total")
        assert dropped >= 150 - 40 - 5
        assert dropped % 5 == 0  # a request's rows are kept or dropped together
        assert _metric(metrics, "modelrail_prediction_log_lines_pending") == pending
    finally:
        sink.release.set()
    assert served.state.logger.wait_idle(10)
    assert len(sink.lines) + dropped == 150


def _batch(n: int, request_id: str | None = None) -> PredictionBatch:
    return PredictionBatch(
        timestamp="2026-01-01T00:00:00+00:00",
        request_id=request_id or str(uuid.uuid4()),
        model="m",
        version="1",
        rows=[{"x": float(i)} for i in range(n)],
        predictions=[0.5] * n,
    )


def test_logger_drops_whole_batches_when_full_and_counts_them() -> None:
    sink = SlowSink()
    dropped: list[float] = []
    logger = PredictionLogger(sink, capacity=5, on_dropped=dropped.append)
    logger.start()
    try:
        assert logger.submit(_batch(3))
        assert logger.submit(_batch(2))
        started = time.perf_counter()
        assert not logger.submit(_batch(1))
        assert time.perf_counter() - started < 0.05
        assert dropped == [1]
    finally:
        sink.release.set()
        logger.close(timeout=5)
    assert len(sink.lines) == 5


class FailingSink:
    def __init__(self) -> None:
        self.calls = 0

    def write(self, text: str) -> None:
        self.calls += 1
        if self.calls == 2:
            raise OSError("disk full")

    def flush(self) -> None:
        pass


def test_a_failing_sink_is_counted_and_the_writer_keeps_going() -> None:
    failed: list[float] = []
    written: list[float] = []
    logger = PredictionLogger(FailingSink(), capacity=100, on_error=failed.append,
                              on_written=written.append)
    logger.start()
    logger.submit(_batch(3))
    logger.submit(_batch(2))
    assert logger.wait_idle(5)
    logger.close()
    assert failed == [2]  # lines 2 and 3 of the first batch
    assert sum(written) == 3  # line 1, then the whole second batch


def test_close_writes_what_is_buffered() -> None:
    lines: list[str] = []

    class ListSink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    logger = PredictionLogger(ListSink(), capacity=100)
    logger.start()
    for _ in range(10):
        logger.submit(_batch(3))
    logger.close(timeout=5)
    assert len(lines) == 30
    assert not logger.submit(_batch(1))  # closed: refused (and counted), never blocks
