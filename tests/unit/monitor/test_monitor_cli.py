"""`modelrail monitor` on files: exit codes, the JSON result, the reports, the late-label
join, and the policy section's strict parsing."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelrail.cli.main import main
from modelrail.config import parse_config
from modelrail.errors import UsageError

POLICY = """model: ctr-ranker
monitor:
  alpha: 0.01
  min_rows: 500
  categorical: [device]
  thresholds:
    default: {minor: 0.1, major: 0.25}
  actions: {minor: warn, major: rollback}
  performance:
    attribution_window: 2m
    calibration_error: {minor: 0.2, major: 0.5}
"""
START = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(rng: np.random.Generator, n: int, price_shift: float) -> list[dict[str, float]]:
    price = rng.lognormal(mean=3.0 + price_shift, sigma=0.5, size=n)
    device = rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2], size=n)
    position = rng.integers(1, 6, size=n)
    prediction = 1 / (1 + np.exp(2.0 + 0.3 * position - 0.01 * price))
    return [{"price": round(float(p), 2), "device": int(d), "position": int(q),
             "prediction": float(s)} for p, d, q, s in zip(price, device, position,
                                                           prediction, strict=True)]


def _write_reference(path: Path, rows: list[dict[str, float]]) -> None:
    lines = ["price,device,position,prediction"]
    lines += [f"{r['price']},{r['device']},{r['position']},{r['prediction']}" for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_log(directory: Path, rows: list[dict[str, float]], rng: np.random.Generator,
               click_scale: float = 1.0) -> tuple[Path, Path]:
    """A prediction log as ctr_serving.predlog writes it (one row per request), a shadow
    row per request that must be ignored, and clicks drawn from the scores."""
    log, events = directory / "predictions.jsonl", directory / "events.jsonl"
    with log.open("w") as predictions, events.open("w") as clicks:
        for index, row in enumerate(rows):
            at = START + timedelta(seconds=index)
            features = {k: v for k, v in row.items() if k != "prediction"}
            for shadow in (False, True):
                record = {"timestamp": at.isoformat(), "request_id": f"r{index}", "row": 0,
                          "model": "ctr-ranker", "version": "2" if shadow else "1",
                          "prediction": 0.99 if shadow else row["prediction"],
                          "features": {**features, "price": 1e6} if shadow else features}
                if shadow:
                    record["shadow"] = True
                predictions.write(json.dumps(record) + "\n")
            if rng.random() < row["prediction"] * click_scale:
                clicks.write(json.dumps({"timestamp": (at + timedelta(seconds=30)).isoformat(),
                                         "user_id": "u", "type": "click",
                                         "request_id": f"r{index}", "value": 1.0}) + "\n")
    return log, events


def _run(tmp_path: Path, shift: float, click_scale: float = 1.0,
         n: int = 3000) -> tuple[int, dict[str, Any]]:
    rng = np.random.default_rng(5)
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    _write_reference(tmp_path / "reference.csv", _rows(rng, 4000, 0.0))
    log, events = _write_log(tmp_path, _rows(rng, n, shift), rng, click_scale)
    code = main(["monitor", "--config", str(tmp_path / "modelrail.yaml"),
                 "--reference", str(tmp_path / "reference.csv"), "--current", str(log),
                 "--events", str(events), "--json", str(tmp_path / "out.json"),
                 "--report", str(tmp_path / "report.html"),
                 "--markdown", str(tmp_path / "report.md")])
    return code, json.loads((tmp_path / "out.json").read_text()) if code in (0, 1) else {}


def _check(result: dict[str, Any], name: str) -> dict[str, Any]:
    checks = result["checks"]
    assert isinstance(checks, list)
    return next(c for c in checks if c["name"] == name)


def test_no_shift_no_breach(tmp_path: Path) -> None:
    code, result = _run(tmp_path, shift=0.0)
    assert code == 0
    assert result["severity"] is None
    assert result["current_rows"] == 3000  # shadow rows left out
    assert {c["name"] for c in result["checks"]} == {
        "price", "device", "position", "prediction", "calibration"}
    assert _check(result, "device")["test"] == "chi2"
    assert _check(result, "price")["test"] == "ks"
    assert _check(result, "calibration")["statistic"] < 0.2
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 5
    assert "```mermaid" in (tmp_path / "report.md").read_text()


def test_shifted_feature_breaches_with_rollback(tmp_path: Path) -> None:
    code, result = _run(tmp_path, shift=0.6)
    assert code == 1
    assert result["action"] == "rollback"
    price = _check(result, "price")
    assert price["severity"] == "major"
    assert price["adjusted_p_value"] < 0.01
    assert _check(result, "device")["severity"] is None


def test_degraded_calibration_is_caught_from_late_clicks(tmp_path: Path) -> None:
    code, result = _run(tmp_path, shift=0.0, click_scale=2.0)
    calibration = _check(result, "calibration")
    assert calibration["severity"] == "major"
    assert code == 1


def test_too_few_rows_is_inconclusive(tmp_path: Path) -> None:
    code, _ = _run(tmp_path, shift=0.0, n=100)
    assert code == 4


def test_missing_feature_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "modelrail.yaml").write_text(POLICY.replace("min_rows: 500", "min_rows: 1\n"
                                             "  features: [price, colour]"))
    rng = np.random.default_rng(1)
    _write_reference(tmp_path / "reference.csv", _rows(rng, 50, 0.0))
    log, events = _write_log(tmp_path, _rows(rng, 50, 0.0), rng)
    code = main(["monitor", "--config", str(tmp_path / "modelrail.yaml"), "--reference",
                 str(tmp_path / "reference.csv"), "--current", str(log), "--events",
                 str(events)])
    assert code == 2


def test_a_value_that_cannot_be_cast_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    rng = np.random.default_rng(1)
    _write_reference(tmp_path / "reference.csv", _rows(rng, 1000, 0.0))
    log, events = _write_log(tmp_path, _rows(rng, 1000, 0.0), rng)
    lines = log.read_text().splitlines()
    record = json.loads(lines[10])
    record["features"]["price"] = "n/a"
    lines[10] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code = main(["monitor", "--config", str(tmp_path / "modelrail.yaml"), "--reference",
                 str(tmp_path / "reference.csv"), "--current", str(log), "--events",
                 str(events)])

    assert code == 2
    err = capsys.readouterr().err
    assert "a value the monitor cannot use" in err
    assert '"n/a"' in err
    assert "price" in err


@pytest.mark.parametrize(("section", "message"), [
    ("{alpha: 0.9}", "monitor.alpha: must be in"),
    ("{thresholds: {price: {minor: 0.3, major: 0.1}}}", "monitor.thresholds.price.major"),
    ("{actions: {major: page}}", "monitor.actions.major: expected one of warn, rollback"),
    ("{performance: {attribution_window: soon, calibration_error: {minor: 1, major: 2}}}",
     "monitor.performance.attribution_window"),
    ("{tresholds: {}}", "unknown key 'monitor.tresholds'"),
])
def test_policy_errors_name_the_key(section: str, message: str) -> None:
    import yaml

    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        parse_config(yaml.safe_load(f"model: m\nmonitor: {section}"), Path("m.yaml"))
