"""plumbing.spark without a JVM: which session a master asks for, and the values Spark
hands back made UTC again."""

import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from modelrail.plumbing import spark
from pyspark.sql import SparkSession


class _Builder:
    """SparkSession.builder's chain, recording the environment getOrCreate sees."""

    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}
        self.options: dict[str, str] = {}

    def master(self, master: str) -> "_Builder":
        self.options["master"] = master
        return self

    def appName(self, name: str) -> "_Builder":  # noqa: N802 - pyspark's name
        return self

    def config(self, key: str, value: str) -> "_Builder":
        self.options[key] = value
        return self

    def getOrCreate(self) -> Any:  # noqa: N802 - pyspark's name
        self.seen = {name: os.environ.get(name) for name in
                     ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE")}
        return type("Session", (), {"sparkContext": type("Context", (), {
            "setLogLevel": staticmethod(lambda level: None)})()})()


def test_a_local_master_is_not_diverted_to_spark_remote(
        monkeypatch: pytest.MonkeyPatch) -> None:
    builder = _Builder()
    monkeypatch.setattr(SparkSession, "builder", builder)
    monkeypatch.setenv("SPARK_REMOTE", "sc://elsewhere:15002")
    monkeypatch.setenv("SPARK_CONNECT_MODE_ENABLED", "1")  # left by a stopped Connect session

    spark._local("local[2]", "--spark-master")

    assert builder.options["master"] == "local[2]"
    assert builder.options["spark.sql.session.timeZone"] == "UTC"
    assert builder.seen == {"SPARK_REMOTE": None, "SPARK_CONNECT_MODE_ENABLED": None,
                            "SPARK_LOCAL_REMOTE": None}
    assert os.environ["SPARK_REMOTE"] == "sc://elsewhere:15002"  # the user's, restored


def test_the_default_master_is_spark_remote_else_local(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert spark.default_master() == "local[*]"
    monkeypatch.setenv("SPARK_REMOTE", "sc://cluster:15002")
    assert spark.default_master() == "sc://cluster:15002"


def test_instants_come_back_aware_in_utc() -> None:
    original = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"  # pyspark returns naive times in the local zone
    time.tzset()
    try:
        local = datetime(2026, 1, 1, 17, 30)  # 12:00 UTC, as pyspark would hand it back
        assert spark._aware(local) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        assert spark._aware(3.5) == 3.5
    finally:
        if original is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = original
        time.tzset()
