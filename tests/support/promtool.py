"""Prometheus's own parsers on an exposition: `promtool check metrics` (the text format and
its lint rules) and `promtool tsdb create-blocks-from openmetrics` (the OpenMetrics parser
Prometheus backfills with), read back with `promtool tsdb dump`."""

import shutil
import subprocess
from pathlib import Path

import pytest

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool (Debian prometheus) is not installed")


def check_metrics(text: str) -> None:
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def load_and_dump(text: str, work: Path) -> list[str]:
    """The samples Prometheus stored from `text`, one `{labels} value ms` line each."""
    source, blocks = work / "metrics.om", work / "blocks"
    source.write_text(text, encoding="utf-8")
    created = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                              str(source), str(blocks)],
                             capture_output=True, text=True, check=False, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    (blocks / "wal").mkdir()  # dump opens the (here empty) write-ahead log too
    return subprocess.run(["promtool", "tsdb", "dump", str(blocks)], capture_output=True,
                          text=True, check=True, timeout=120).stdout.splitlines()
