"""Property: any bytes, any JSON or YAML text and any edit of a valid document, read as a
metrics file or an A/B statistics file, give numbers or a UsageError naming the file
(exit 2) — never another exception, never a hang."""

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.ab.stats_file import load_stats, parse_stats
from modelrail.gate.metrics_file import load_metrics

from tests.property.strategies import SCALARS, examples, mutated, trees, usage_error
from tests.support.builders.ab_documents import stats

Loader = Callable[[Path], object]
TEXTS = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["{", "[", "a: &a [1]\nb: *a\n", "a: *nope\n", "--- 1\n--- 2\n",
                     "!!python/object:os.system ls\n", "!!binary 'zz'\n", "? [1]\n: 2\n",
                     "{\"a\": 1, \"a\": 2}", "x: 2001-02-30\n", "[" * 200, "NaN", "1e999"]),
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="modelrail-property-") as name:
        yield Path(name)


def check_load(load: Loader, path: Path) -> None:
    message = usage_error(lambda: load(path))
    assert message is None or message.startswith(str(path)), message


def dumped(document: Any, suffix: str) -> str | None:
    """`document` as JSON or YAML text; None when that format cannot hold it."""
    try:
        return json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    except (TypeError, ValueError, yaml.YAMLError):
        return None


LOADERS = [("metrics.json", load_metrics), ("metrics.yaml", load_metrics),
           ("stats.json", load_stats)]


@pytest.mark.parametrize(("name", "load"), LOADERS)
@settings(max_examples=examples(60))
@given(content=st.binary(max_size=300))
def test_any_bytes(folder: Path, name: str, load: Loader, content: bytes) -> None:
    path = folder / name
    path.write_bytes(content)
    check_load(load, path)


@pytest.mark.parametrize(("name", "load"), LOADERS)
@settings(max_examples=examples(60))
@given(text=TEXTS)
def test_any_text(folder: Path, name: str, load: Loader, text: str) -> None:
    path = folder / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_load(load, path)


@pytest.mark.parametrize(("name", "load"), LOADERS)
@settings(max_examples=examples(80))
@given(document=trees(max_leaves=20))
def test_any_document(folder: Path, name: str, load: Loader, document: Any) -> None:
    text = dumped(document, Path(name).suffix)
    if text is not None:
        path = folder / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        check_load(load, path)


@settings(max_examples=examples(600))
@given(st.data())
def test_any_edit_of_a_valid_statistics_document(data: st.DataObject) -> None:
    document = mutated(data, stats(), st.one_of(SCALARS, trees(max_leaves=6)))
    message = usage_error(lambda: parse_stats(document, "stats.json"))
    assert message is None or message.startswith("stats.json: "), message
