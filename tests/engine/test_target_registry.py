"""The runtime creates every target through the registry keyed by ``type``."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitward import errors
from gitward.config import settings as config_settings
from gitward.engine import runtimes
from gitward.targets import base, registry
from gitward.testing import kubeapi


class _Recorded:
    """A target of a plugin type: it only says who it is."""

    def __init__(self, request: registry.Request) -> None:
        self.name = request.name
        self.request = request

    async def probe(self) -> base.Probe:
        return base.Probe(server=f"plugin {self.request.options['uri']}", version="1")

    async def close(self) -> None:
        return None


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution installed on sys.path declaring a ``libvirt`` target entry point."""
    site = tmp_path / "site"
    package = site / "gitward_libvirt_plugin.py"
    site.mkdir()
    package.write_text(
        "from tests.engine.test_target_registry import _Recorded\n"
        "def create(request):\n    return _Recorded(request)\n"
    )
    dist = site / "gitward_libvirt_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gitward-libvirt-plugin\n")
    (dist / "entry_points.txt").write_text(
        "[gitward.targets]\nlibvirt = gitward_libvirt_plugin:create\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("gitward_libvirt_plugin", None)


@pytest.fixture
async def server() -> AsyncIterator[kubeapi.KubeAPIServer]:
    async with kubeapi.KubeAPIServer(port=0) as running:
        yield running


def _settings(targets: dict[str, Any]) -> config_settings.Settings:
    return config_settings.Settings.model_validate({"targets": targets})


async def test_a_plugin_type_comes_from_its_entry_point(
    plugin_module: Path, tmp_path: Path
) -> None:
    settings = _settings({"vm": {"type": "libvirt", "uri": "qemu:///system"}})
    options = runtimes.RuntimeOptions(settings=settings, cache_dir=tmp_path / "cache")
    assert "libvirt" in registry.known()
    async with runtimes.Runtime.open(options) as runtime:
        target = runtime.target("vm")
        assert (await target.probe()).server == "plugin qemu:///system"
        request = target.request  # type: ignore[attr-defined]
        assert request.state_dir == tmp_path / "cache" / "targets"
        assert request.options["type"] == "libvirt"


async def test_a_registered_factory_serves_its_type(tmp_path: Path) -> None:
    registry.register("recorded", _Recorded)
    try:
        settings = _settings({"r": {"type": "recorded", "uri": "x"}})
        options = runtimes.RuntimeOptions(settings=settings, cache_dir=tmp_path)
        async with runtimes.Runtime.open(options) as runtime:
            assert (await runtime.target("r").probe()).server == "plugin x"
    finally:
        registry.unregister("recorded")


async def test_an_unknown_type_is_a_configuration_error_naming_target_and_type(
    tmp_path: Path,
) -> None:
    settings = _settings({"vm": {"type": "nomad"}})
    options = runtimes.RuntimeOptions(settings=settings, cache_dir=tmp_path)
    async with runtimes.Runtime.open(options) as runtime:
        with pytest.raises(errors.ConfigError, match="target 'vm': no target type 'nomad'"):
            runtime.target("vm")


async def test_kubernetes_is_the_default_type(
    server: kubeapi.KubeAPIServer, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    server.write_kubeconfig(kubeconfig)
    settings = _settings({"prod": {"kubeconfig": str(kubeconfig)}})
    options = runtimes.RuntimeOptions(settings=settings, cache_dir=tmp_path / "cache")
    async with runtimes.Runtime.open(options) as runtime:
        probe = await runtime.target("prod").probe()
        assert probe.version.startswith("v1.")
