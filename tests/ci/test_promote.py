"""``gitward promote``: versions copied from staging to production, applied to production only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ci.conftest import application, log, show
from tests.fixtures import Git, Gitward, create_namespace, kget
from tests.manifests import deployment

pytestmark = pytest.mark.slow

CHART = "apiVersion: v2\nname: api\nversion: 0.1.0\n"
TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: api
data:
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def overlay(tag: str, extra: str = "") -> str:
    return f"""\
resources:
  - ../../base
images:
  - name: ghcr.io/example/web  # promoted from staging
    newTag: {tag}
{extra}"""


def _seed(git: Git, tmp_path: Path) -> dict[str, Path]:
    git.commit(
        "environments",
        {
            "web/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
            "web/base/deployment.yaml": deployment("web", "ghcr.io/example/web:0.1.0"),
            "web/overlays/staging/kustomization.yaml": overlay("1.1.0"),
            "web/overlays/production/kustomization.yaml": overlay(
                "1.0.0", "commonLabels: {tier: prod}\n"
            ),
            "charts/api/Chart.yaml": CHART,
            "charts/api/templates/cm.yaml": TEMPLATE,
            "charts/api/values.yaml": "image:\n  repository: ghcr.io/example/api\n  tag: x\n",
            "charts/api/values-staging.yaml": "image:\n  tag: '2.1.0'  # staging\n",
            "charts/api/values-production.yaml": "image:\n  tag: '2.0.0'  # production\n",
        },
    )
    files: dict[str, Path] = {}
    for env in ("staging", "production"):
        files[f"web-{env}"] = tmp_path / f"web-{env}.yaml"
        files[f"web-{env}"].write_text(
            application(f"web-{env}", git.url, f"web/overlays/{env}", env)
        )
        files[f"api-{env}"] = tmp_path / f"api-{env}.yaml"
        files[f"api-{env}"].write_text(
            application(
                f"api-{env}",
                git.url,
                "charts/api",
                env,
                extra=f"  render: {{helm: {{valueFiles: [values-{env}.yaml]}}}}\n",
            ).replace("  syncPolicy:", "  syncPolicy:", 1)
        )
    return files


def _image(cluster: Any, namespace: str) -> str:
    live = kget(cluster, "-n", namespace, "deployment", "web")
    return str(live["spec"]["template"]["spec"]["containers"][0]["image"])


def test_promotion_commit_applies_to_production_only(
    git: Git, gitward: Gitward, cluster: Any, tmp_path: Path
) -> None:
    files = _seed(git, tmp_path)
    for namespace in ("staging", "production"):
        create_namespace(cluster, namespace)
    for name in ("web-staging", "web-production"):
        gitward("sync", str(files[name]))
    assert _image(cluster, "production") == "ghcr.io/example/web:1.0.0"
    staging_before = show(git, "web/overlays/staging/kustomization.yaml")

    apps = [
        arg for name in ("web-staging", "web-production") for arg in ("--app", str(files[name]))
    ]
    dry = gitward("promote", "web", "--from", "staging", "--to", "production", *apps, "--dry-run")
    assert "ghcr.io/example/web: 1.0.0 → 1.1.0" in dry.stdout
    assert len(log(git)) == 1

    done = gitward("promote", "web", "--from", "staging", "--to", "production", *apps)
    assert "ghcr.io/example/web: 1.0.0 → 1.1.0 (web/overlays/production/kustomization.yaml)" in (
        done.stdout
    )
    assert "pushed" in done.stdout
    assert log(git)[0] == "Promote web-staging to web-production (staging → production)"
    changed = git.run("--git-dir", str(git.remote), "diff", "--name-only", "main~1", "main")
    assert changed.splitlines() == ["web/overlays/production/kustomization.yaml"]
    assert show(git, "web/overlays/production/kustomization.yaml") == overlay(
        "1.1.0", "commonLabels: {tier: prod}"
    )
    assert show(git, "web/overlays/staging/kustomization.yaml") == staging_before

    gitward("diff", str(files["web-staging"]))  # staging: untouched, in sync
    gitward("diff", str(files["web-production"]), expect=1)
    gitward("sync", str(files["web-production"]))
    assert _image(cluster, "production") == "ghcr.io/example/web:1.1.0"
    assert _image(cluster, "staging") == "ghcr.io/example/web:1.1.0"

    again = gitward("promote", "web", "--from", "staging", "--to", "production", *apps)
    assert "nothing differs" in again.stdout
    assert len(log(git)) == 2


def test_helm_values_are_promoted_between_value_files(
    git: Git, gitward: Gitward, tmp_path: Path
) -> None:
    files = _seed(git, tmp_path)
    apps = [
        arg for name in ("api-staging", "api-production") for arg in ("--app", str(files[name]))
    ]
    done = gitward("promote", "api", "--from", "staging", "--to", "production", *apps)
    assert "2.0.0 → 2.1.0" in done.stdout
    assert show(git, "charts/api/values-production.yaml") == "image:\n  tag: '2.1.0'  # production"
    assert show(git, "charts/api/values-staging.yaml") == "image:\n  tag: '2.1.0'  # staging"


def test_unknown_environment_is_an_input_error(git: Git, gitward: Gitward, tmp_path: Path) -> None:
    files = _seed(git, tmp_path)
    done = gitward(
        "promote",
        "web",
        "--from",
        "staging",
        "--to",
        "qa",
        "--app",
        str(files["web-staging"]),
        expect=2,
    )
    assert "environment 'qa' of 'web'" in done.stderr


def test_promotion_as_a_pull_request_branch(git: Git, gitward: Gitward, tmp_path: Path) -> None:
    files = _seed(git, tmp_path)
    apps = [a for n in ("web-staging", "web-production") for a in ("--app", str(files[n]))]
    # The pull-request branch does not exist yet: it is created from main.
    done = gitward(
        "promote",
        "web",
        "--from",
        "staging",
        "--to",
        "production",
        *apps,
        "--as-branch",
        "promote/web",
    )
    assert "to branch promote/web" in done.stdout
    again = gitward(
        "promote",
        "web",
        "--from",
        "staging",
        "--to",
        "production",
        *apps,
        "--as-branch",
        "promote/web",
    )
    assert "nothing to promote" in again.stdout.lower() or "already" in again.stdout.lower()
    assert len(log(git)) == 1  # main untouched
    assert "newTag: 1.1.0" in show(git, "web/overlays/production/kustomization.yaml", "promote/web")
