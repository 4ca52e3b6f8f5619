"""Rich consoles for command output, sized when they print, not when imported.

A console created at import time freezes the terminal width it saw then; a
command run later (in a wider terminal, with ``COLUMNS`` set, or piped into a
script) would wrap tables at that width. Piped output gets a wide fixed width
so scripts read whole lines.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console

_PIPE_WIDTH = 200


class Lazy:
    """Stands for a Console; each attribute access builds one for the moment."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def console(self) -> Console:
        """A Console sized for now (for APIs that need a real one)."""
        return self._console()

    def _console(self) -> Console:
        stream = sys.stderr if self._stderr else sys.stdout
        columns = os.environ.get("COLUMNS", "")
        width: int | None = None
        if columns.isdigit():
            width = int(columns)
        elif not stream.isatty():
            width = _PIPE_WIDTH
        return Console(stderr=self._stderr, highlight=False, soft_wrap=True, width=width)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)
