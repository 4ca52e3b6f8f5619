"""Spread Applications over the live members: consistent hashing with bounded loads.

Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads"
(2018): every member has ``points`` positions on a ring; an Application goes
to the first member clockwise from its own position that still has room,
room being ``ceil((1 + balance) * applications / members)``. Plain consistent
hashing moves only what it must when a member joins or leaves, but its shards
can be very uneven (Argo CD users report exactly that); the bound caps the
largest shard while keeping the movement close to the minimum.

Pure and deterministic: every replica computing it over the same member set
gets the same answer, which is what lets them agree without talking.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Iterable, Mapping

DEFAULT_BALANCE = 0.25
DEFAULT_POINTS = 64


def _position(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def capacity(applications: int, members: int, balance: float = DEFAULT_BALANCE) -> int:
    """The most Applications one member may own: ``ceil((1 + balance) * n / m)``."""
    if members <= 0:
        return 0
    return math.ceil((1 + balance) * applications / members)


def assign(
    applications: Iterable[str],
    members: Iterable[str],
    *,
    balance: float = DEFAULT_BALANCE,
    points: int = DEFAULT_POINTS,
) -> dict[str, str]:
    """Application name → owning member. Empty when there is no member."""
    if balance < 0:
        raise ValueError(f"balance must be >= 0 (got {balance})")
    names = sorted(set(members))
    apps = sorted(set(applications), key=lambda a: (_position(a), a))
    if not names:
        return {}
    ring = sorted((_position(f"{member}/{i}"), member) for member in names for i in range(points))
    positions = [p for p, _ in ring]
    room = capacity(len(apps), len(names), balance)
    load = dict.fromkeys(names, 0)
    owners: dict[str, str] = {}
    for app in apps:
        start = bisect.bisect_right(positions, _position(app))
        for step in range(len(ring)):
            member = ring[(start + step) % len(ring)][1]
            if load[member] < room:
                owners[app] = member
                load[member] += 1
                break
    return owners


def shards(owners: Mapping[str, str]) -> dict[str, list[str]]:
    """Member → the sorted Applications it owns."""
    by_member: dict[str, list[str]] = {}
    for app, member in sorted(owners.items()):
        by_member.setdefault(member, []).append(app)
    return by_member


def moved(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Applications whose owner differs (present in both)."""
    return sorted(app for app, owner in after.items() if before.get(app, owner) != owner)
