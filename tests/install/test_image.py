"""`make image`'s recipe builds an OCI image from Debian packages and PyPI wheels only;
the image is pushed to a real Distribution registry, pulled back with skopeo,
unpacked with umoci and run (as its non-root user) with chroot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gitward
from tests.images import registry

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("mmdebstrap", "buildah", "umoci", "skopeo", "chroot")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        os.geteuid() != 0 or not registry.available() or not all(shutil.which(t) for t in TOOLS),
        reason="needs root, docker-registry and `make image-deps` (mmdebstrap, buildah, umoci...)",
    ),
]


def _run(*argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1100)
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_image_builds_pushes_pulls_and_runs(tmp_path: Path) -> None:
    with registry.running(tmp_path) as served:
        image = f"{served.host}/gitward:test"
        started = time.monotonic()
        out = _run(
            str(ROOT / "deploy" / "image" / "build.sh"),
            env={
                **os.environ,
                "IMAGE": image,
                "PUSH": "1",
                "TLS_VERIFY": "false",
                "OUT": str(tmp_path / "out"),
                "PY": sys.executable,
            },
        )
        print(out, f"build and push: {time.monotonic() - started:.0f}s")
        oci = tmp_path / "pulled"
        _run("skopeo", "copy", "--src-tls-verify=false", f"docker://{image}", f"oci:{oci}:test")
        config = json.loads(
            _run("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{image}")
        )
    labels = config["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == gitward.__version__
    assert len(labels["org.opencontainers.image.revision"].split("-")[0]) == 40
    assert config["config"]["User"] == "10001:10001"
    assert {"/tmp", "/var/lib/gitward", "/var/cache/gitward"} <= set(config["config"]["Volumes"])

    bundle = tmp_path / "bundle"
    _run("umoci", "unpack", "--image", f"{oci}:test", str(bundle))
    rootfs = bundle / "rootfs"

    chroot = shutil.which("chroot") or "/usr/sbin/chroot"

    def inside(*argv: str) -> str:
        return _run(
            chroot,
            "--userspec=10001:10001",
            str(rootfs),
            *argv,
            env={"PATH": "/opt/gitward/bin:/usr/bin:/bin", "HOME": "/tmp"},
        )

    assert inside("/opt/gitward/bin/gitward", "--version").strip().endswith(gitward.__version__)
    assert "--config" in inside("/opt/gitward/bin/gitward", "serve", "--help")
    assert inside("/opt/gitward/bin/kubectl", "version", "--client").startswith("Client Version")
    for absent in ("apt", "apt-get", "dpkg", "pip", "pip3", "gcc", "cc"):
        assert not (rootfs / "usr" / "bin" / absent).exists(), absent
    assert not list(rootfs.glob("opt/gitward/lib/python3*/site-packages/pip"))

    sbom = json.loads((rootfs / "usr/share/gitward/sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    purls = {c["purl"].split("@")[0] for c in sbom["components"]}
    assert {
        "pkg:pypi/gitward",
        "pkg:pypi/pygit2",
        "pkg:deb/debian/python3",
        "pkg:deb/debian/git",
    } <= purls
    assert (tmp_path / "out" / "sbom.cdx.json").is_file()
