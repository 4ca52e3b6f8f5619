"""Benchmark of the Kubernetes API test server (gitward.testing.kubeapi).

Run it by hand: ``.venv/bin/python bench/kubeapi.py`` (about a minute). The
server runs in its own process (``gitward testing kube-api``, uvloop) so the
client's work does not share its interpreter; the client speaks raw HTTP/1.1
over keep-alive connections to measure the server rather than an HTTP library.

Prints:
* server-side apply of small ConfigMaps: requests/s (16 concurrent connections);
* list of 10,000 ConfigMaps: seconds per list and response size;
* list by label selector (the agent's per-Application read): 20,000 more
  ConfigMaps in 1,000 label groups of 20, so 30,000 in the bucket; time per
  selected list across namespaces, paged by 500 as gitward reads;
* watch event delivery latency with 1,000 open watches (p50/p99/max);
* server RSS holding 50,000 objects and 2,000 open watches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop
import yaml

CM = "/api/v1/namespaces/default/configmaps"


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 26)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def start_watch(self, path: str) -> None:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        while (await self.reader.readline()) not in (b"\r\n", b""):
            pass

    def close(self) -> None:
        self.writer.close()


def start_server(port: int, kubeconfig: Path) -> subprocess.Popen[bytes]:
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000)); "
        "from gitward.cli.testing_commands import app; app()"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "kube-api",
            "--port",
            str(port),
            "--kubeconfig-out",
            str(kubeconfig),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    # The file appears before its content: wait until it names the cluster.
    while not kubeconfig.exists() or "clusters" not in kubeconfig.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return process


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def apply_body(name: str) -> bytes:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {{bench: ssa}}\n"
        "data:\n  key: value\n  other: thing\n"
    ).encode()


async def bench_ssa(port: int, total: int, concurrency: int = 16) -> float:
    conns = [await Conn.open(port) for _ in range(concurrency)]
    names = iter(range(total))

    async def worker(conn: Conn) -> None:
        for i in names:
            status, body = await conn.request(
                "PATCH",
                f"{CM}/ssa-{i}?fieldManager=bench",
                apply_body(f"ssa-{i}"),
                "application/apply-patch+yaml",
            )
            if status not in (200, 201):
                raise SystemExit(f"apply failed: {status} {body[:200]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    return total / elapsed


async def fill(
    port: int, prefix: str, total: int, namespace_path: str = CM, groups: int = 0
) -> None:
    """Create ``total`` ConfigMaps; with ``groups``, labelled ``group=g-<i % groups>``."""
    conns = [await Conn.open(port) for _ in range(16)]
    names = iter(range(total))

    async def worker(conn: Conn) -> None:
        for i in names:
            meta: dict[str, object] = {"name": f"{prefix}-{i}"}
            if groups:
                meta["labels"] = {"group": f"g-{i % groups}", "bench": "selector"}
            body = json.dumps(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"key": "v"}}
            ).encode()
            status, answer = await conn.request("POST", namespace_path, body)
            if status != 201:
                raise SystemExit(f"create failed: {status} {answer[:200]!r}")

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.close()


async def bench_list(port: int) -> tuple[float, int, int]:
    conn = await Conn.open(port)
    timings = []
    size = count = 0
    for _ in range(5):
        start = time.perf_counter()
        status, body = await conn.request("GET", CM)
        timings.append(time.perf_counter() - start)
        assert status == 200
        size = len(body)
        count = len(json.loads(body)["items"])
    conn.close()
    return statistics.median(timings), size, count


async def bench_selected_list(port: int, groups: int, lists: int) -> tuple[float, int]:
    """Median seconds of one label-selected list (all namespaces, limit 500), items each."""
    conn = await Conn.open(port)
    timings = []
    count = 0
    for i in range(lists):
        path = f"/api/v1/configmaps?labelSelector=group%3Dg-{i * 7 % groups}&limit=500"
        start = time.perf_counter()
        status, body = await conn.request("GET", path)
        timings.append(time.perf_counter() - start)
        assert status == 200, body[:200]
        count = len(json.loads(body)["items"])
    conn.close()
    return statistics.median(timings), count


async def current_rv(port: int) -> str:
    """The server's resourceVersion now (a watch from a newer one is refused, as upstream)."""
    conn = await Conn.open(port)
    status, body = await conn.request("GET", f"{CM}?limit=1")
    conn.close()
    assert status == 200, body[:200]
    return str(json.loads(body)["metadata"]["resourceVersion"])


async def bench_watch_latency(port: int, watchers: int, events: int) -> list[float]:
    conns = []
    for start in range(0, watchers, 100):
        batch = await asyncio.gather(
            *(Conn.open(port) for _ in range(start, min(watchers, start + 100)))
        )
        conns.extend(batch)
    # From the current resourceVersion: only new events are sent (none are replayed).
    ns_path = f"{CM}?watch=1&resourceVersion={await current_rv(port)}"
    await asyncio.gather(*(c.start_watch(ns_path) for c in conns))
    await asyncio.sleep(0.5)
    received: list[tuple[float, bytes]] = []

    async def reader(conn: Conn) -> None:
        # Only timestamp here; parsing 1,000 copies of each event would delay the
        # readers behind it and be counted as server latency.
        for _ in range(events):
            size_line = await conn.reader.readline()
            chunk = await conn.reader.readexactly(int(size_line.strip(), 16) + 2)
            received.append((time.monotonic(), chunk))

    readers = [asyncio.create_task(reader(c)) for c in conns]
    writer = await Conn.open(port)
    for i in range(events):
        body = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"latency-{i}",
                    "annotations": {"sent": repr(time.monotonic())},
                },
                "data": {"k": "v"},
            }
        ).encode()
        status, _ = await writer.request("POST", CM, body)
        assert status == 201
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*readers), 120)
    for c in conns:
        c.close()
    writer.close()
    return [
        at - float(json.loads(chunk)["object"]["metadata"]["annotations"]["sent"])
        for at, chunk in received
    ]


async def open_watches(port: int, count: int) -> list[Conn]:
    conns = []
    for start in range(0, count, 100):
        conns.extend(
            await asyncio.gather(*(Conn.open(port) for _ in range(start, min(count, start + 100))))
        )
    path = f"{CM}?watch=1&resourceVersion={await current_rv(port)}"
    await asyncio.gather(*(c.start_watch(path) for c in conns))
    return conns


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssa", type=int, default=5000, help="server-side applies to time")
    parser.add_argument("--port", type=int, default=18555)
    args = parser.parse_args()
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        server = start_server(args.port, kubeconfig)
        assert yaml.safe_load(kubeconfig.read_text())["clusters"]
        try:
            print(f"server pid {server.pid}, idle RSS {rss_mib(server.pid):.0f} MiB")
            rate = uvloop.run(bench_ssa(args.port, args.ssa))
            print(f"server-side apply, small ConfigMaps: {rate:,.0f} requests/s (16 connections)")
            uvloop.run(fill(args.port, "list", 10_000 - args.ssa))
            took, size, count = uvloop.run(bench_list(args.port))
            print(f"list of {count:,} ConfigMaps: {took * 1000:.0f} ms ({size / 1e6:.1f} MB)")
            uvloop.run(fill(args.port, "sel", 20_000, groups=1000))
            took, count = uvloop.run(bench_selected_list(args.port, 1000, 300))
            print(
                f"list by label selector, 30,000 ConfigMaps in the bucket ({count} selected): "
                f"{took * 1000:.2f} ms per list"
            )
            lat = uvloop.run(bench_watch_latency(args.port, 1000, 20))
            print(
                f"event delivery with 1,000 watches ({len(lat):,} deliveries): "
                f"p50 {pct(lat, 0.5) * 1000:.1f} ms, p99 {pct(lat, 0.99) * 1000:.1f} ms, "
                f"max {max(lat) * 1000:.1f} ms"
            )
            start = time.perf_counter()
            uvloop.run(fill(args.port, "mem", 50_000 - 30_000 - 20))
            print(f"created 20,000 more objects in {time.perf_counter() - start:.1f} s")

            async def hold() -> float:
                conns = await open_watches(args.port, 2000)
                await asyncio.sleep(1.0)
                rss = rss_mib(server.pid)
                for c in conns:
                    c.close()
                return rss

            rss = uvloop.run(hold())
            print(f"RSS with 50,000 objects and 2,000 open watches: {rss:.0f} MiB")
        finally:
            server.send_signal(2)
            server.wait(timeout=30)
    os._exit(0)


if __name__ == "__main__":
    main()
