"""The long fuzzing campaign over every stage that reads untrusted input.

Run: ``.venv/bin/python bench/fuzz.py [--examples 3000] [--seed N]``.

Runs ``tests/fuzz`` (YAML/JSON loading, directory render identity, Kustomize
and Helm request building, webhook payload parsing, Application and Project
parsing, the sync sequence with a recording target) with ``--examples`` cases
per target (the suite runs 300) and a random seed (the suite's run is
derandomised, so each campaign explores new inputs). Prints the cases run,
the seed, the time and the verdict; a failure prints hypothesis's minimal
example and the seed that reproduces it.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = 7  # test functions in tests/fuzz/test_untrusted_input.py


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000, help="cases per target")
    parser.add_argument("--seed", type=int, default=random.randrange(2**32))
    args = parser.parse_args()
    env = os.environ | {"FUZZ_EXAMPLES": str(args.examples), "FUZZ_SEED": str(args.seed)}
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--hypothesis-seed={args.seed}",
            str(ROOT / "tests" / "fuzz"),
        ],
        cwd=ROOT,
        env=env,
        check=False,
    )
    seconds = time.monotonic() - started
    load = os.getloadavg()[0]
    verdict = "no crash, no unnamed error" if done.returncode == 0 else "FAILED (see above)"
    print(
        f"fuzz: {args.examples * TARGETS} cases ({args.examples} per target x {TARGETS}),"
        f" seed {args.seed}, {seconds:.0f} s (load {load:.1f}): {verdict}"
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
