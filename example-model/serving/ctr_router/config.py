"""Router settings, read once at start-up from the environment or a JSON file.

- ``ROUTER_CONFIG``: path of a JSON file ``{"experiment": ..., "variants": {name: url},
  "weights": [...], "coverage": ..., "timeout_seconds": ...}``; when set, the variables
  below are ignored, so one file is the whole truth of a running experiment.
- ``EXPERIMENT``: the experiment key, which is also the hash seed (GrowthBook's seed).
- ``VARIANTS``: ``name=url`` pairs separated by commas, in variant order:
  ``control=http://127.0.0.1:8081,treatment=http://127.0.0.1:8082``. The first variant is
  the control: users outside the coverage are served by it, outside the experiment.
- ``WEIGHTS``: comma-separated weights summing to 1 (default: equal split).
- ``COVERAGE`` (``1``): the share of users in the experiment.
- ``UPSTREAM_TIMEOUT_SECONDS`` (``2``): bound on one forwarded call (connect, read, write).
- ``MAX_BODY_BYTES`` (``4194304``): larger request bodies are refused with 413.
- ``SHADOW`` (none): ``name=url`` of a shadow variant that gets an asynchronous copy of
  every answered request (``ctr_router.shadow``); ``SHADOW_QUEUE_SIZE`` (``1000``) copies
  may wait, more are dropped and counted; ``SHADOW_WORKERS`` (``4``) send them. In the
  JSON file: ``"shadow": {name: url}``, ``"shadow_queue_size"``, ``"shadow_workers"``.

Validation happens here, before the server listens: a typo in the weights must stop the
router, not silently change a running split.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelrail.ab.hashing import bucket_ranges


class RouterSettingsError(ValueError):
    """The configuration is invalid; the message names the setting."""


@dataclass(frozen=True)
class Variant:
    name: str
    url: str  # base URL of the variant's model server; /predict is appended


@dataclass(frozen=True)
class RouterSettings:
    experiment: str
    variants: tuple[Variant, ...]
    weights: tuple[float, ...]
    coverage: float = 1.0
    timeout_seconds: float = 2.0
    max_body_bytes: int = 4 * 1024 * 1024
    shadow: Variant | None = None
    shadow_queue_size: int = 1000
    shadow_workers: int = 4

    def __post_init__(self) -> None:
        if not self.experiment.strip():
            raise RouterSettingsError("EXPERIMENT must not be empty")
        if len(self.variants) < 2:
            raise RouterSettingsError("VARIANTS: an experiment needs at least two variants")
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise RouterSettingsError(f"VARIANTS: names must be unique, got {names}")
        self._check_shadow(names)
        for variant in (*self.variants, *((self.shadow,) if self.shadow else ())):
            parts = urlsplit(variant.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise RouterSettingsError(
                    f"VARIANTS: {variant.name}'s URL must be http(s)://host[:port], "
                    f"got {variant.url!r}"
                )
        if len(self.weights) != len(self.variants):
            raise RouterSettingsError(
                f"WEIGHTS: {len(self.weights)} weights for {len(self.variants)} variants"
            )
        try:
            bucket_ranges(self.weights, self.coverage)  # the same checks assign() makes
        except ValueError as exc:
            raise RouterSettingsError(f"WEIGHTS/COVERAGE: {exc}") from None
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise RouterSettingsError("UPSTREAM_TIMEOUT_SECONDS must be a positive number")
        if self.max_body_bytes <= 0:
            raise RouterSettingsError("MAX_BODY_BYTES must be a positive integer")

    def _check_shadow(self, names: list[str]) -> None:
        if self.shadow is not None and self.shadow.name in names:
            raise RouterSettingsError(f"SHADOW: {self.shadow.name!r} is also a variant; a "
                                      "shadow never answers users")
        if self.shadow_queue_size <= 0 or self.shadow_workers <= 0:
            raise RouterSettingsError("SHADOW_QUEUE_SIZE and SHADOW_WORKERS must be positive")

    @property
    def control(self) -> Variant:
        return self.variants[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RouterSettings:
        env = os.environ if env is None else env
        config_path = env.get("ROUTER_CONFIG", "").strip()
        if config_path:
            return cls.from_json(Path(config_path))
        variants = parse_variants(env.get("VARIANTS", ""))
        raw_weights = env.get("WEIGHTS", "").strip()
        weights = (
            _floats("WEIGHTS", raw_weights.split(","))
            if raw_weights
            else _equal(len(variants))
        )
        return cls(
            experiment=env.get("EXPERIMENT", "").strip(),
            variants=variants,
            weights=weights,
            coverage=_float("COVERAGE", env.get("COVERAGE", "").strip() or "1"),
            timeout_seconds=_float(
                "UPSTREAM_TIMEOUT_SECONDS", env.get("UPSTREAM_TIMEOUT_SECONDS", "").strip() or "2"
            ),
            max_body_bytes=_int("MAX_BODY_BYTES", env.get("MAX_BODY_BYTES", "").strip()
                                or str(4 * 1024 * 1024)),
            shadow=_one(parse_variants(env.get("SHADOW", ""))),
            shadow_queue_size=_int("SHADOW_QUEUE_SIZE",
                                   env.get("SHADOW_QUEUE_SIZE", "").strip() or "1000"),
            shadow_workers=_int("SHADOW_WORKERS", env.get("SHADOW_WORKERS", "").strip() or "4"),
        )

    @classmethod
    def from_json(cls, path: Path) -> RouterSettings:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RouterSettingsError(f"ROUTER_CONFIG {path}: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, source: str = "config") -> RouterSettings:
        if not isinstance(data, dict):
            raise RouterSettingsError(f"{source}: expected a JSON object")
        variants = _variants(data.get("variants"), f"{source}: 'variants'")
        raw_weights = data.get("weights")
        weights = (
            _equal(len(variants))
            if raw_weights is None
            else _floats("weights", [str(w) for w in raw_weights])
        )
        return cls(
            experiment=str(data.get("experiment", "")),
            variants=variants,
            weights=weights,
            coverage=_float("coverage", str(data.get("coverage", 1.0))),
            timeout_seconds=_float("timeout_seconds", str(data.get("timeout_seconds", 2.0))),
            max_body_bytes=_int("max_body_bytes", str(data.get("max_body_bytes", 4 * 1024 * 1024))),
            shadow=_one(_variants(data.get("shadow") or {}, f"{source}: 'shadow'")),
            shadow_queue_size=_int("shadow_queue_size", str(data.get("shadow_queue_size", 1000))),
            shadow_workers=_int("shadow_workers", str(data.get("shadow_workers", 4))),
        )


def parse_variants(raw: str) -> tuple[Variant, ...]:
    """``name=url,name=url`` in order; the first is the control."""
    variants = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise RouterSettingsError(f"VARIANTS: expected name=url, got {item!r}")
        variants.append(Variant(name.strip(), url.strip().rstrip("/")))
    return tuple(variants)


def _variants(raw: Any, what: str) -> tuple[Variant, ...]:
    if not isinstance(raw, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
    ):
        raise RouterSettingsError(f"{what} must map names to URLs")
    return tuple(Variant(name, url.rstrip("/")) for name, url in raw.items())


def _one(variants: tuple[Variant, ...]) -> Variant | None:
    """The shadow: at most one."""
    if len(variants) > 1:
        raise RouterSettingsError("SHADOW: one shadow variant at most (name=url)")
    return variants[0] if variants else None


def _equal(count: int) -> tuple[float, ...]:
    return tuple(1.0 / count for _ in range(count)) if count else ()


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise RouterSettingsError(f"{name} must be a number, got {raw!r}") from None


def _floats(name: str, raws: list[str]) -> tuple[float, ...]:
    return tuple(_float(name, raw.strip()) for raw in raws)


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise RouterSettingsError(f"{name} must be an integer, got {raw!r}") from None
