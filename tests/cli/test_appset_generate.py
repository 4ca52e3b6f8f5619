"""``gitward appset generate``: what the root's ApplicationSets generate, with no agent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures import Git

APPSET = """\
apiVersion: gitward.dev/v1
kind: ApplicationSet
metadata: {{name: {name}}}
spec:
  generators:
    - matrix:
        generators:
          - targets: {{selector: {{matchLabels: {{env: prod}}}}}}
          - gitDirectories:
              repoURL: "{url}"
              ref: main
              directories: [{{path: "services/*"}}, {{path: services/old, exclude: true}}]
  template:
    metadata: {{name: "{{{{path.basename}}}}-{{{{target.name}}}}"}}
    spec:
      source: {{repoURL: "{url}", ref: main, path: "{{{{path.path}}}}"}}
      destination: {{target: "{{{{target.name}}}}", namespace: "{{{{path.basename}}}}"}}
"""


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitward", "appset", "generate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generate_prints_every_generated_application(
    git: Git, env: dict[str, str], tmp_path: Path
) -> None:
    git.commit(
        "fleet",
        {
            "apps/services.yaml": APPSET.format(name="services", url=git.url),
            "services/web/k.yaml": "",
            "services/api/k.yaml": "",
            "services/old/k.yaml": "",
        },
    )
    config = tmp_path / "gitward.yaml"
    config.write_text(
        "targets:\n"
        "  eu-1: {labels: {env: prod}}\n"
        "  us-1: {labels: {env: prod}}\n"
        "  dev-1: {labels: {env: dev}}\n"
        f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
        f"cacheDir: {tmp_path / 'cache'}\n"
    )
    done = _run(env, "--config", str(config), "-o", "json")
    assert done.returncode == 0, done.stderr
    generated = json.loads(done.stdout)
    assert [a["name"] for a in generated["applications"]] == [
        "api-eu-1",
        "api-us-1",
        "web-eu-1",
        "web-us-1",
    ]
    web = generated["applications"][2]
    assert web["set"] == "services"
    assert (web["target"], web["namespace"], web["path"]) == ("eu-1", "web", "services/web")
    assert generated["problems"] == []

    text = _run(env, "--config", str(config))
    assert text.returncode == 0
    assert "web-us-1" in text.stdout and "4 Application(s)" in text.stdout

    unknown = _run(env, "--config", str(config), "nope")
    assert unknown.returncode == 2
    assert "ApplicationSet 'nope' is not declared" in unknown.stderr


def test_a_broken_template_is_reported_naming_the_set(
    git: Git, env: dict[str, str], tmp_path: Path
) -> None:
    broken = APPSET.format(name="services", url=git.url).replace("path.basename}}-", "nope}}-")
    git.commit("fleet", {"apps/services.yaml": broken, "services/web/k.yaml": ""})
    config = tmp_path / "gitward.yaml"
    config.write_text(
        "targets: {eu-1: {labels: {env: prod}}}\n"
        f'root: {{repoURL: "{git.url}", ref: main, path: apps}}\n'
        f"cacheDir: {tmp_path / 'cache'}\n"
    )
    done = _run(env, "--config", str(config), "-o", "json")
    assert done.returncode == 0
    answer = json.loads(done.stdout)
    assert answer["applications"] == []
    assert "ApplicationSet 'services'" in answer["problems"][0]
    assert "'nope' is undefined" in answer["problems"][0]
