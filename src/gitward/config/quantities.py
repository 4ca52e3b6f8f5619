"""Memory sizes as users write them: Kubernetes quantities (``512Mi``, ``1Gi``,
``2G``) or a number of bytes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FACTORS = {
    None: 1,
    "Ki": 1 << 10,
    "Mi": 1 << 20,
    "Gi": 1 << 30,
    "Ti": 1 << 40,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
}
MINIMUM = 64 << 20  # below this even a trivial Helm or kubectl child cannot start


def parse(value: Any) -> int:
    """Bytes in ``value``; raises ValueError naming the value when malformed."""
    if isinstance(value, bool):
        raise ValueError(f"memory size {value!r} is not a size")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"memory size {text!r} is not a size (write e.g. 512Mi, 1Gi or bytes)")
    return int(float(match.group(1)) * _FACTORS[match.group(2)])


def describe(size: int) -> str:
    """``size`` the way a user writes it (``1Gi``, ``384Mi``, or bytes)."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        factor = _FACTORS[unit]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size} bytes"


def _render_limit(value: Any) -> int:
    size = parse(value)
    if size < MINIMUM:
        raise ValueError(f"memory size {value!r} is below the {describe(MINIMUM)} minimum")
    return size


RenderMemory = Annotated[int, BeforeValidator(_render_limit)]
"""A memory ceiling in bytes for render children (at least 64Mi)."""
