"""Chart policies: the newest version a range allows is committed to Git, comments kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitward.config import settings as config_settings
from gitward.engine import charting, runtimes
from tests import chartrepos
from tests.fixtures import Git

pytestmark = pytest.mark.slow

APP = """apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: ingress}}
spec:
  source:
    repoURL: {url}
    chart: ingress   # pinned by the chart policy
    version: 4.10.0
  destination: {{target: prod, namespace: web}}
---
apiVersion: gitward.dev/v1
kind: Application
metadata: {{name: other}}
spec:
  source: {{repoURL: {url}, chart: other, version: 1.0.0}}
  destination: {{target: prod, namespace: web}}
"""
UMBRELLA = """apiVersion: v2
name: platform
version: 1.0.0
dependencies:
  - name: ingress
    version: "4.10.0"   # kept in step
    repository: {url}
"""


async def test_policy_commits_the_newest_allowed_version(git: Git, tmp_path: Path) -> None:
    with chartrepos.serving(tmp_path / "served") as repo:
        for version in ("4.10.0", "4.11.2", "5.0.0"):
            repo.add(chartrepos.package(tmp_path, "ingress", version, destination=tmp_path / "d"))
        git.commit(
            "apps",
            {
                "deploy/apps/ingress.yaml": APP.format(url=repo.url),
                "deploy/platform/Chart.yaml": UMBRELLA.format(url=repo.url),
            },
        )
        settings = config_settings.Settings.model_validate(
            {
                "cacheDir": str(tmp_path / "cache"),
                "chartPolicies": [
                    {
                        "name": "ingress",
                        "repoURL": repo.url,
                        "chart": "ingress",
                        "range": ">=4.10 <5",
                        "update": {"repoURL": git.url, "branch": "main", "path": "deploy"},
                    }
                ],
            }
        )
        policy = settings.chart_policies[0]
        status = charting.PolicyStatus()
        async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
            pushed = await charting.check_policy(runtime, policy, status)
            assert pushed is not None and status.latest == "4.11.2"
            git.run("pull", "-q", "origin", "main")
            app_text = (git.work / "deploy/apps/ingress.yaml").read_text()
            assert app_text == APP.format(url=repo.url).replace(
                "version: 4.10.0", "version: 4.11.2"
            )
            chart_text = (git.work / "deploy/platform/Chart.yaml").read_text()
            assert chart_text == UMBRELLA.format(url=repo.url).replace('"4.10.0"', '"4.11.2"')
            message = git.run("log", "-1", "--format=%B")
            assert message.startswith("Set chart ingress to 4.11.2 (was 4.10.0) in deploy")
            # Nothing moved: no commit.
            assert await charting.check_policy(runtime, policy, charting.PolicyStatus()) is None


async def test_policy_naming_nothing_in_git_says_so(git: Git, tmp_path: Path) -> None:
    with chartrepos.serving(tmp_path / "served") as repo:
        repo.add(chartrepos.package(tmp_path, "ingress", "1.0.0", destination=tmp_path / "d"))
        git.commit("apps", {"deploy/readme.yaml": "a: 1\n"})
        settings = config_settings.Settings.model_validate(
            {
                "cacheDir": str(tmp_path / "cache"),
                "chartPolicies": [
                    {
                        "name": "ingress",
                        "repoURL": repo.url,
                        "chart": "ingress",
                        "range": "*",
                        "update": {"repoURL": git.url, "path": "deploy"},
                    }
                ],
            }
        )
        async with runtimes.Runtime.open(runtimes.RuntimeOptions(settings=settings)) as runtime:
            with pytest.raises(charting.ChartNotInGit, match="names chart ingress"):
                await charting.check_policy(
                    runtime, settings.chart_policies[0], charting.PolicyStatus()
                )
