"""Durations as users write them (``90s``, ``5m``, ``1h30m``, ``250ms``, or seconds)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse(value: Any) -> float:
    """Seconds in ``value``; raises ValueError naming the value when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"duration {value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("duration is empty")
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        try:
            return float(text)
        except ValueError:
            raise ValueError(
                f"duration {text!r} is not a duration (write e.g. 30s, 5m, 1h30m)"
            ) from None
    return total


def _positive(value: Any) -> float:
    seconds = parse(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be greater than zero")
    return seconds


# In JSON schemas (and the CRDs generated from them) a duration is a number
# of seconds or a string such as "5m".
_SCHEMA = WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]})

Duration = Annotated[float, BeforeValidator(parse), _SCHEMA]
"""A duration in seconds, written as ``30s``/``5m``/``1h`` or a number."""

PositiveDuration = Annotated[float, BeforeValidator(_positive), _SCHEMA]
"""A duration in seconds that must be greater than zero (intervals, timeouts)."""
