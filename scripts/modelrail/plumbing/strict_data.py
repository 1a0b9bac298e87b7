"""Strict YAML and JSON: the one parser for every data file modelrail reads.

The policy, metrics, statistics, reports, params and dvc.lock files can come from a pull
request, so parsing must be bounded and unambiguous: a key written twice is refused (YAML
and JSON would silently keep the last), YAML aliases are limited in number and in how far
they expand the document (a 500-byte "billion laughs" file otherwise expands to billions
of values), recursive aliases are refused, and nesting is bounded so no reader runs out
of stack. Every problem is a UsageError naming the file.
"""

import json
import math
from pathlib import Path
from typing import Any

import yaml

from modelrail.errors import UsageError

MAX_DEPTH = 64
"""Levels of nesting a data file may have (real files use fewer than ten)."""
MAX_ALIASES = 100
"""YAML aliases (`*name`) a file may use."""
MAX_VALUES = 1_000_000
"""Values (scalars, lists, mappings) a YAML document may hold once aliases are expanded."""

MAX_INT_BITS = 13_300
"""About 4000 decimal digits: longer integers are refused (Python will not print them)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer bounds depth, aliases and expanded size, and whose
    constructor refuses a key written twice or a key that is a list or mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values in it, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        mark = self._next_mark()
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _limit(f"more than {MAX_ALIASES} aliases", mark)
            if id(node) not in self._sizes:
                raise _limit("an alias refers to a node that contains it", mark)
            return node
        nests = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        self._depth += nests
        if self._depth > MAX_DEPTH:
            raise _limit(f"nested deeper than {MAX_DEPTH} levels", mark)
        node = super().compose_node(parent, index)
        self._depth -= nests
        size = 1 + sum(self._sizes[id(child)] for child in _children(node))
        if size > MAX_VALUES:
            raise _limit(f"more than {MAX_VALUES:,} values once its aliases are expanded",
                         mark)
        self._sizes[id(node)] = size
        return node

    def _next_mark(self) -> yaml.Mark | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = event.start_mark
        return mark if isinstance(mark, yaml.Mark) else None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults` may be overridden, by design
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be text or a number, not a list or mapping",
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An int, refused past 4000 digits: YAML 1.1's base-60 (`1:30:00`) builds ints
        without Python's digit limit, and no message could show one that long."""
        value: int = super().construct_yaml_int(node)
        if value.bit_length() > MAX_INT_BITS:
            raise yaml.constructor.ConstructorError(
                None, None, "an integer of over 4000 digits", node.start_mark)
        return value


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _children(node: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _limit(problem: str, mark: yaml.Mark | None) -> yaml.composer.ComposerError:
    return yaml.composer.ComposerError(None, None, problem, mark)


def load_yaml_strict(text: str, source: Path | str) -> object:
    """The YAML document in `text`, read from `source` (named in every error)."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise UsageError(f"{source}: not valid YAML: {error}") from None
    except ValueError as error:  # an int over Python's digit limit, a date like 2001-02-30
        raise UsageError(f"{source}: not valid YAML: {error}") from None


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    data: dict[str, object] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKeyError(key)
        data[key] = value
    return data


def load_json_strict(text: str, source: Path | str) -> object:
    """The JSON document in `text`, read from `source` (named in every error)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_object)
    except _DuplicateKeyError as error:
        raise UsageError(f"{source}: not valid JSON: key {error.key!r} appears twice in "
                         "one object") from None
    except RecursionError:
        raise UsageError(f"{source}: not valid JSON: nested deeper than {MAX_DEPTH} "
                         "levels") from None
    except ValueError as error:  # JSONDecodeError, or an int over Python's digit limit
        raise UsageError(f"{source}: not valid JSON: {error}") from None
    if _depth(data) > MAX_DEPTH:
        raise UsageError(f"{source}: not valid JSON: nested deeper than {MAX_DEPTH} levels")
    return data


def _depth(data: object) -> int:
    """Levels of lists and objects in a decoded JSON document, without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) \
            else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def finite_float(value: int | float) -> float | None:
    """`value` as a finite float; None for NaN, an infinity or an integer beyond ±1.8e308
    (which `float()` and `math.isfinite` would raise OverflowError on)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def shown(value: object, width: int = 60) -> str:
    """`repr(value)` for an error message, cut to about `width` characters (repr refuses
    an integer over 4300 digits, so one that long is described instead)."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return "an integer of over 4000 digits"
    text = repr(value)
    return text if len(text) <= width else f"{text[:width - 20]}... ({len(text)} characters)"
