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


class ListSink:
    """Keeps every write; ``lines`` splits them into log lines."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        return "".join(self.writes).splitlines()


class SlowSink(ListSink):
    """Takes one second per write, like a congested log pipe, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()  # a write has started

    def write(self, text: str) -> None:
        self.entered.set()
        self.release.wait(1.0)
        super().write(text)


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
    """The first write fails (disk full), later ones succeed."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)
        if len(self.writes) == 1:
            raise OSError("disk full")

    def flush(self) -> None:
        pass


def test_a_failing_sink_is_counted_and_the_writer_keeps_going() -> None:
    failed: list[float] = []
    written: list[float] = []
    sink = FailingSink()
    logger = PredictionLogger(sink, capacity=100, on_error=failed.append,
                              on_written=written.append)
    logger.start()
    logger.submit(_batch(3))
    assert logger.wait_idle(5)
    logger.submit(_batch(2))
    assert logger.wait_idle(5)
    logger.close()
    assert failed == [3]  # the write that failed held the first batch's 3 lines
    assert written == [2]  # the writer went on with the next batch
    assert sink.writes[1].count("\n") == 2


def test_a_batch_that_is_not_json_is_counted_and_the_rest_is_written() -> None:
    failed: list[float] = []
    sink = ListSink()
    logger = PredictionLogger(sink, capacity=100, on_error=failed.append)
    bad = PredictionBatch(timestamp="t", request_id="r", model="m", version="1",
                          rows=[{"x": 1.0}, {"x": 2.0}], predictions=[0.5, float("nan")])
    logger.submit(bad)
    logger.submit(_batch(3))
    logger.start()
    logger.close(timeout=5)
    assert failed == [2]
    assert len(sink.lines) == 3


def test_buffered_batches_go_out_in_one_write() -> None:
    """Many requests, one system call: the writer takes everything buffered at once."""
    sink = SlowSink()
    logger = PredictionLogger(sink, capacity=1000)
    logger.start()
    try:
        logger.submit(_batch(1))
        assert sink.entered.wait(5)  # the writer took it and is stuck in write()
        for _ in range(50):
            assert logger.submit(_batch(2))
    finally:
        sink.release.set()
    assert logger.wait_idle(5)
    logger.close()
    assert len(sink.lines) == 101
    assert len(sink.writes) == 2  # the first batch, then the 50 buffered behind it


@pytest.mark.parametrize("context", [
    {},
    {"user_id": "u-ünï\u2028\"q\"", "experiment": "e", "variant": "v"},
    {"variant": "control"},
    {"user_id": "u", "shadow_of": "prod-req-1"},
])
def test_lines_are_exactly_what_json_dumps_writes(context) -> None:
    rows = [{"position": 1, "price": 19.9, "name": "ä\\"}, {"position": 2, "price": 1e-300,
                                                           "name": ""}]
    batch = PredictionBatch(timestamp="2026-01-01T00:00:00.000001+00:00", request_id="r-1",
                            model="ctr-ranker", version="7", rows=rows,
                            predictions=[0.0734123456789012, 1 / 3], **context)
    expected = ""
    for index, (features, prediction) in enumerate(zip(rows, batch.predictions, strict=True)):
        shadow = ({"shadow": True, "shadow_of": context["shadow_of"]}
                  if "shadow_of" in context else {})
        plain = {key: value for key, value in context.items() if key != "shadow_of"}
        record = {"timestamp": batch.timestamp, "request_id": "r-1", "row": index, **plain,
                  **shadow, "model": "ctr-ranker", "version": "7", "prediction": prediction,
                  "features": features}
        expected += json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
    assert batch.text() == expected


def test_close_writes_what_is_buffered() -> None:
    sink = ListSink()
    logger = PredictionLogger(sink, capacity=100)
    logger.start()
    for _ in range(10):
        logger.submit(_batch(3))
    logger.close(timeout=5)
    assert len(sink.lines) == 30
    assert not logger.submit(_batch(1))  # closed: refused (and counted), never blocks


def test_a_burst_lingers_into_one_write() -> None:
    sink = ListSink()
    logger = PredictionLogger(sink, capacity=1000, linger=0.3)
    logger.start()
    for _ in range(20):
        logger.submit(_batch(2))
    assert logger.wait_idle(5)
    logger.close()
    assert len(sink.writes) == 1  # one wake-up and one write for the whole burst
    assert len(sink.lines) == 40
