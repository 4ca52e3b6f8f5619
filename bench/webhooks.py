"""Benchmark: verify + parse of a signed ~25 KB GitHub push delivery.

Measures the pure webhook layer the agent runs per delivery (no I/O):
HMAC-SHA256 verification of the body, JSON decoding and field checks, URL
normalisation, and the union of changed paths. Also times ``read_body`` over
an in-memory ASGI ``receive`` delivering the body in 4 KB chunks.

Run: ``.venv/bin/python bench/webhooks.py [--size 25000] [--repeat 2000]``.
Prints per-delivery median and best wall time and the deliveries per second
one core sustains.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from gitward.source import webhooks

GOLDEN = (
    Path(__file__).resolve().parent.parent / "tests" / "golden" / "webhooks" / "github-push.json"
)
SECRET = "bench-secret"


def payload(size: int) -> bytes:
    """The golden GitHub push grown to about ``size`` bytes: 19 commits (below
    GitHub's truncation limit) each modifying as many files as needed."""
    data = json.loads(GOLDEN.read_bytes())
    template = data["commits"][0]
    files_per_commit = 1
    while True:
        commits = [
            dict(
                template,
                id=f"{index:040x}",
                modified=[
                    f"apps/team-{index}/overlays/prod/resource-{n}.yaml"
                    for n in range(files_per_commit)
                ],
            )
            for index in range(19)
        ]
        body = json.dumps(data | {"commits": commits}).encode()
        if len(body) >= size:
            return body
        files_per_commit += 1


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def report(name: str, samples: list[float]) -> None:
    median = statistics.median(samples)
    print(
        f"{name:<28} median {median * 1e6:8.1f} us   best {min(samples) * 1e6:8.1f} us"
        f"   {1 / median:10.0f} /s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()

    body = payload(args.size)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": "sha256=" + webhooks.sign(body, SECRET),
    }
    (event,) = webhooks.parse(webhooks.Provider.GITHUB, headers, body)
    assert isinstance(event, webhooks.PushEvent) and event.changed_paths is not None
    print(
        f"GitHub push delivery: {len(body)} bytes, "
        f"{len(json.loads(body)['commits'])} commits, {len(event.changed_paths)} changed paths"
    )

    def verify() -> None:
        webhooks.verify(webhooks.Provider.GITHUB, headers, body, SECRET)

    def parse() -> None:
        webhooks.parse(webhooks.Provider.GITHUB, headers, body)

    def both() -> None:
        provider = webhooks.detect(headers)
        assert provider is not None
        webhooks.verify(provider, headers, body, SECRET)
        webhooks.parse(provider, headers, body)

    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]

    def receiver() -> Callable[[], Awaitable[Mapping[str, object]]]:
        messages = iter(chunks)

        async def receive() -> Mapping[str, object]:
            chunk = next(messages, b"")
            return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

        return receive

    async def read_all(repeat: int) -> list[float]:
        samples = []
        for _ in range(repeat):
            receive = receiver()
            start = time.perf_counter()
            await webhooks.read_body(receive, limit=1 << 20, timeout=5.0)
            samples.append(time.perf_counter() - start)
        return samples

    for fn in (verify, parse, both):
        fn()  # warm up
    report("verify (HMAC-SHA256)", timed(verify, args.repeat))
    report("parse", timed(parse, args.repeat))
    report("detect + verify + parse", timed(both, args.repeat))
    report("read_body (4 KB chunks)", asyncio.run(read_all(args.repeat)))


if __name__ == "__main__":
    main()
