"""Rich consoles for command output, sized when they print, not when imported.

A console created at import time freezes the terminal width it saw then; a
command run later (in a wider terminal, with ``COLUMNS`` set, or piped into a
script) would wrap tables at that width. Piped output gets a wide fixed width
so scripts read whole lines.

:meth:`Lazy.line` prints a line whose parts may have a colour: through rich
where the stream shows colour (a terminal, or ``FORCE_COLOR`` /
``TTY_COMPATIBLE=1`` set, as rich reads them), as plain text without
importing rich anywhere else (a pipe, a file, CI; ~12 ms of a one-shot
command's start).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_PIPE_WIDTH = 200


class Lazy:
    """Stands for a Console; each attribute access builds one for the moment."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    def console(self) -> Console:
        """A Console sized for now (for APIs that need a real one)."""
        return self._console()

    def line(self, *parts: str | tuple[str, str]) -> None:
        """Print one line made of ``parts``: text, or (text, rich style such as
        "green"). Nothing in the text is read as markup."""
        stream = self._stream()
        if not _shows_colour(stream):
            stream.write("".join(p if isinstance(p, str) else p[0] for p in parts) + "\n")
            return
        from rich.text import Text

        self._console().print(Text.assemble(*parts))

    def _console(self) -> Console:
        from rich.console import Console

        stream = self._stream()
        columns = os.environ.get("COLUMNS", "")
        width: int | None = None
        if columns.isdigit():
            width = int(columns)
        elif not stream.isatty():
            width = _PIPE_WIDTH
        return Console(stderr=self._stderr, highlight=False, soft_wrap=True, width=width)

    def _stream(self) -> Any:
        return sys.stderr if self._stderr else sys.stdout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)


def _shows_colour(stream: Any) -> bool:
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
