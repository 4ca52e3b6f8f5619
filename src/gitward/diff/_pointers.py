"""JSON pointers (RFC 6901) as the diff stage writes and reads them.

Private to ``gitward.diff``: ``comparing`` and ``_fieldsv1`` build pointers,
``ignoring`` parses the ones users write in ``ignoreDifferences``.
"""

from __future__ import annotations

from gitward import errors


def escape(token: str | int) -> str:
    """One reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def join(pointer: str, token: str | int) -> str:
    return f"{pointer}/{escape(token)}"


def parse(pointer: str, what: str) -> tuple[str, ...]:
    """The unescaped reference tokens of ``pointer``; ``""`` is the whole document.

    ``what`` names where the pointer came from, for the error message.
    """
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise errors.PlanError(f"{what}: JSON pointer {pointer!r} must start with '/'")
    tokens = []
    for raw in pointer[1:].split("/"):
        # A '~' not followed by 0 or 1 is invalid per RFC 6901 section 3.
        stripped = raw.replace("~0", "").replace("~1", "")
        if "~" in stripped:
            raise errors.PlanError(
                f"{what}: JSON pointer {pointer!r} has an invalid escape (use ~0 for ~, ~1 for /)"
            )
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)
