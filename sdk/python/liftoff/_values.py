"""Conversion of user values to plain JSON values, and RFC 3339 timestamps."""

from __future__ import annotations

import enum
import math
import os
import sys
from typing import Any, Mapping

__all__ = ["NonFinite", "Unsupported", "nonfinite_text", "to_json"]


class NonFinite(ValueError):
    """A NaN or infinite number, which JSON cannot carry."""


class Unsupported(TypeError):
    """A value with no JSON representation."""


_ATOMS = (str, int, bool, type(None))


def to_json(value: Any, *, strict: bool = True, nonfinite_text: bool = False, _depth: int = 0) -> Any:
    """Return ``value`` as plain JSON data (dict/list/str/int/float/bool/None), copied.

    Numpy/torch/jax scalars and arrays go through ``.tolist()``; tuples and sets become lists;
    dates become ISO strings; enums their value; dataclasses dicts; paths strings.
    Non-finite floats raise :class:`NonFinite`, or with ``nonfinite_text`` become the strings the server
    stores them as ("NaN", "Infinity", "-Infinity", as wandb runs have them). With ``strict=False`` (config values) non-finite
    floats become the strings "NaN"/"Infinity"/"-Infinity" and anything else unknown becomes
    ``str(value)``; with ``strict=True`` unknown objects raise :class:`Unsupported`.
    """
    if _depth > 64:
        raise Unsupported("nested too deeply")
    t = type(value)
    if t is float:
        if value - value == 0.0:
            return value
        if strict and not nonfinite_text:
            raise NonFinite(repr(value))
        return nonfinite_text(value)
    if t in _ATOMS:
        return value
    d = _depth + 1
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return to_json(float(value), strict=strict, nonfinite_text=nonfinite_text, _depth=d)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v, strict=strict, nonfinite_text=nonfinite_text, _depth=d) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, strict=strict, nonfinite_text=nonfinite_text, _depth=d) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_json(v, strict=strict, nonfinite_text=nonfinite_text, _depth=d) for v in value]
        try:
            items.sort()
        except TypeError:
            pass
        return items
    if isinstance(value, enum.Enum):
        return to_json(value.value, strict=strict, nonfinite_text=nonfinite_text, _depth=d)
    # A value can only be a date or a dataclass instance if its module is loaded: looking the module up rather
    # than importing it keeps both imports off every script's start.
    datetime = sys.modules.get("datetime")
    if datetime is not None and isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if datetime is not None and isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else str(value)
    dataclasses = sys.modules.get("dataclasses")
    if dataclasses is not None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value), strict=strict, nonfinite_text=nonfinite_text, _depth=d)
    # numpy / torch / jax scalars and arrays, decimal.Decimal, fractions.Fraction, ...
    for method in ("tolist", "item"):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                converted = fn()
            except Exception:
                continue
            if converted is not value:
                return to_json(converted, strict=strict, nonfinite_text=nonfinite_text, _depth=d)
    if isinstance(value, complex):
        pass
    elif hasattr(value, "__float__") and not isinstance(value, (bytes, bytearray)):
        try:
            return to_json(float(value), strict=strict, nonfinite_text=nonfinite_text, _depth=d)
        except (TypeError, ValueError, OverflowError):
            pass
    if strict:
        raise Unsupported(type(value).__name__)
    return str(value)


def nonfinite_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


