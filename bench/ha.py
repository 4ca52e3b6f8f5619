"""Benchmark: replicas under failure (issue 13), on their own.

Runs the scenario of ``tests/e2e/ha_scenario.py`` with real processes: three
``gitward serve`` replicas on a real PostgreSQL (Debian's binaries, as the
tests start it) coordinating through Kubernetes Leases on the API test server
(its own process, recording every write), 60 Applications; SIGKILL of the
replica writing a commit, SIGSTOP of one past its lease then SIGCONT, scale
3 -> 1 -> 3. Leases of 3 s (renew deadline 2 s, retry 0.5 s). The API test
server holds every write 0.2 s (``--write-latency``), so the kill lands in the
middle of a sync; takeover times include that latency.

Takeover: for each Application the killed replica owned and had not yet
written, the time from the SIGKILL to the first write of it by another
replica. Double appliers: Applications written by two replicas in
overlapping time (the API test server's record). Unowned after rebalance:
what the replicas report once scaled back to three. Progress goes to stderr;
the last line of stdout is the result. Run:
``.venv/bin/python bench/ha.py [--apps 60]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e import ha_scenario
from tests.fixtures import Git
from tests.store import postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitward-ha-") as tmp, postgres.postgres_server() as pg:
        root = Path(tmp)
        pg.execute("CREATE DATABASE ha")
        env = ha_scenario.environment(root)
        scenario = ha_scenario.Scenario(
            root, pg.database_url("ha"), Git(root, env), env, apps=args.apps
        )
        try:
            outcome = scenario.run()
        finally:
            scenario.stop()
        for step, seconds in outcome.steps:
            print(f"{step}: settled in {seconds:.1f} s", file=sys.stderr)
        for double in outcome.double_appliers:
            print(f"double applier: {double}", file=sys.stderr)
        print(outcome.line())


if __name__ == "__main__":
    main()
