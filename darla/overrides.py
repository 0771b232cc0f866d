"""``key=value`` on every command line: the one grammar, and the one parser of its values.

Every command splits its ``key=value`` words with :func:`split` (``darla run`` overrides, ``darla
see`` hyperparameters, ``darla act`` RL settings, ``darla metrics --set``). Values are read by
:func:`parse_value` where the key's annotated type is known (a method's config dataclass: ``int``,
``float``, ``bool``, ``str``, ``Literal[...]``, ``X | None``, ``list[X]``) and by
:func:`parse_loose` where only the current value shows the type (a run config) or nothing does
(free-form settings). Both read the same words: booleans ``true/false``, ``yes/no``, ``on/off``,
``1/0``; numbers with an exponent (``1e-4``); lists as ``[a,b]`` or ``a,b``; ``none``/``null``.
An unknown key fails with the list of valid keys; a value that does not parse names the expected type.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Iterable

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class OverrideError(ValueError):
    """A malformed override, an unknown key, or a value of the wrong type."""


def valid_keys(config) -> list[str]:
    """Every settable key of a dataclass (instance or class), nested ones with dots."""
    cls = config if isinstance(config, type) else type(config)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out += [f"{f.name}.{k}" for k in valid_keys(hints[f.name])]
        else:
            out.append(f.name)
    return out


def parse_value(text: str, kind: Any, key: str) -> Any:
    """``text`` converted to the annotated type ``kind`` of field ``key``."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        for choice in choices:
            if str(choice) == text:
                return choice
        raise OverrideError(f"{key}={text!r}: expected one of {[str(c) for c in choices]}")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(kind)
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return parse_value(text, arg, key)
            except OverrideError as err:
                errors.append(str(err))
        raise OverrideError("; ".join(errors))
    if origin is list:
        (item,) = typing.get_args(kind) or (str,)
        return [parse_value(part, item, f"{key}[{i}]") for i, part in enumerate(_list_items(text))]
    if kind is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise OverrideError(f"{key}={text!r}: expected a boolean (true/false)")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise OverrideError(f"{key}={text!r}: expected an integer") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise OverrideError(f"{key}={text!r}: expected a number") from None
    if kind is str:
        return text
    raise OverrideError(f"{key}: fields of type {kind} cannot be set from the command line")


def parse_loose(text: str, current: Any = None) -> Any:
    """A value whose type only ``current`` shows (or nothing, for free-form settings): JSON when it
    parses (``3``, ``1e-4``, ``true``, ``[0,1,2]``), a list where ``current`` is one (``a,b`` or
    ``[a,b]``, names unquoted), a boolean where ``current`` is one (any word of the grammar), a
    number where ``current`` is one (kept as given, so a range check can name ``1.5`` for a count),
    else the text itself. Raises ValueError naming the expected type."""
    if isinstance(current, bool):
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ValueError(f"expected true or false (or yes/no, on/off, 1/0), got {text!r}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = {"True": True, "False": False, "None": None, "none": None}.get(text, text)
    if isinstance(current, list) and not isinstance(value, list):
        value = [parse_loose(part) for part in _list_items(text)]
    if isinstance(current, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {text!r}")
        value = float(value) if isinstance(current, float) else value
    return value


def _list_items(text: str) -> list[str]:
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    return [part.strip() for part in inner.split(",") if part.strip()]


def split(pairs: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b.c=x"]`` → ``{"a": "1", "b.c": "x"}`` (a later repeat of a key wins)."""
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise OverrideError(f"override {pair!r} is not KEY=VALUE (for example beta=4 or dae.steps=500)")
        out[key.strip()] = value.strip()
    return out


def apply(config, pairs: Iterable[str] | dict[str, str], _prefix: str = ""):
    """A copy of the dataclass instance ``config`` with the ``key=value`` overrides applied."""
    items = split(pairs) if not isinstance(pairs, dict) else pairs
    nested: dict[str, dict[str, str]] = {}
    changes: dict[str, Any] = {}
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}
    for key, text in items.items():
        head, dot, rest = key.partition(".")
        if head not in names:
            raise OverrideError(f"unknown key {_prefix + key!r} for {type(config).__qualname__}; valid keys: "
                                f"{', '.join(_prefix + k for k in valid_keys(config))}")
        kind = hints[head]
        if dataclasses.is_dataclass(kind):
            if not dot:
                raise OverrideError(f"{_prefix + key!r} is a group; set its fields as {_prefix + key}.NAME=VALUE "
                                    f"({', '.join(_prefix + head + '.' + k for k in valid_keys(kind))})")
            nested.setdefault(head, {})[rest] = text
        elif dot:
            raise OverrideError(f"unknown key {_prefix + key!r}: {_prefix + head!r} has no sub-keys; valid keys: "
                                f"{', '.join(_prefix + k for k in valid_keys(config))}")
        else:
            changes[head] = parse_value(text, kind, _prefix + key)
    for head, sub in nested.items():
        changes[head] = apply(getattr(config, head), sub, f"{_prefix}{head}.")
    return dataclasses.replace(config, **changes)
