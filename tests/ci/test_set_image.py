"""``gitward set-image`` as CI runs it: a real process, a bare remote, concurrent runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.ci.conftest import KUSTOMIZATION, log, show
from tests.fixtures import Git
from tests.manifests import deployment

GITHUB = {
    "GITHUB_SERVER_URL": "https://github.example.com",
    "GITHUB_REPOSITORY": "org/web",
    "GITHUB_RUN_ID": "4242",
}


def _seed(git: Git) -> None:
    git.commit(
        "seed",
        {
            "web/overlays/staging/kustomization.yaml": KUSTOMIZATION.format(
                image="ghcr.io/example/web", tag="1.0.0"
            ),
            "web/overlays/staging/deployment.yaml": deployment("web", "ghcr.io/example/web"),
            "api/values.yaml": "image:\n  repository: ghcr.io/example/api\n  tag: '3.0'\n",
            "unrelated.txt": "left alone\n",
        },
    )


def _set_image(
    env: dict[str, str], tmp: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitward", "set-image", *args],
        env=env | (extra or {}),
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_set_image_commits_one_line_with_a_message_naming_everything(
    git: Git, env: dict[str, str], tmp_path: Path
) -> None:
    _seed(git)
    before = show(git, "web/overlays/staging/kustomization.yaml")
    code, out, err = _wait(
        _set_image(
            env,
            tmp_path,
            "ghcr.io/example/web:1.1.0",
            "--repo",
            git.url,
            "--path",
            "web/overlays/staging",
            "--author-name",
            "CI Bot",
            "--author-email",
            "ci@example.com",
            extra=GITHUB,
        )
    )
    assert code == 0, err
    assert "1.0.0 → 1.1.0" in out
    after = show(git, "web/overlays/staging/kustomization.yaml")
    assert after == before.replace("newTag: 1.0.0", "newTag: 1.1.0")
    message = git.run("--git-dir", str(git.remote), "log", "-1", "--format=%B%n%an <%ae>", "main")
    assert message.splitlines()[0] == (
        "Set image ghcr.io/example/web to 1.1.0 (was 1.0.0) in web/overlays/staging"
    )
    assert "CI-Run: https://github.example.com/org/web/actions/runs/4242" in message
    assert message.rstrip().endswith("CI Bot <ci@example.com>")
    changed = git.run("--git-dir", str(git.remote), "diff", "--stat", "main~1", "main")
    assert "1 file changed, 1 insertion(+), 1 deletion(-)" in changed

    # Same tag again: nothing to commit, still success.
    code, out, _ = _wait(
        _set_image(env, tmp_path, "ghcr.io/example/web:1.1.0", "--repo", git.url, "--path", "web")
    )
    assert code == 0
    assert "nothing to do" in out
    assert len(log(git)) == 2


def test_two_concurrent_runs_both_land(git: Git, env: dict[str, str], tmp_path: Path) -> None:
    _seed(git)
    web = _set_image(env, tmp_path, "ghcr.io/example/web:2.0.0", "--repo", git.url, "--path", "web")
    api = _set_image(
        env,
        tmp_path,
        "ghcr.io/example/api:3.1",
        "--repo",
        git.url,
        "--path",
        "api",
        "--key",
        "image.tag",
    )
    results = [_wait(web), _wait(api)]
    assert all(code == 0 for code, _, _ in results), results
    subjects = log(git)
    assert len(subjects) == 3, subjects
    assert any("ghcr.io/example/web to 2.0.0" in s for s in subjects)
    assert any("ghcr.io/example/api to 3.1" in s for s in subjects)
    assert "newTag: 2.0.0" in show(git, "web/overlays/staging/kustomization.yaml")
    assert "tag: '3.1'" in show(git, "api/values.yaml")
    # A straight line: no force push, nobody's commit lost.
    assert git.run("--git-dir", str(git.remote), "rev-list", "--count", "main") == "3"


def test_errors_have_exit_codes_and_name_the_image(
    git: Git, env: dict[str, str], tmp_path: Path
) -> None:
    _seed(git)
    code, _, err = _wait(
        _set_image(env, tmp_path, "ghcr.io/example/nope:1", "--repo", git.url, "--path", "web")
    )
    assert code == 2
    assert "ghcr.io/example/nope" in err
    code, _, err = _wait(
        _set_image(env, tmp_path, "Not An Image", "--repo", git.url, "--path", "web")
    )
    assert code == 2
    assert "not a valid image reference" in err
    code, _, err = _wait(
        _set_image(
            env,
            tmp_path,
            "ghcr.io/example/web:2",
            "--repo",
            (tmp_path / "missing.git").as_uri(),
            "--path",
            "web",
        )
    )
    assert code in (2, 3)
    assert "missing.git" in err
    assert len(log(git)) == 1
