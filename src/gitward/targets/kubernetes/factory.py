"""The ``kubernetes`` entry of the target registry: a configuration entry to a target."""

from __future__ import annotations

import os
from pathlib import Path

from gitward.targets import registry
from gitward.targets.kubernetes import connecting
from gitward.targets.kubernetes.target import KubernetesTarget


def create(request: registry.Request) -> KubernetesTarget:
    """A Kubernetes target; the record of kinds each Application used is kept
    in ``<state_dir>/<name>.json`` so a later process can still prune them."""
    options = request.options
    kubeconfig = str(options.get("kubeconfig") or "") or str(_default_kubeconfig())
    return KubernetesTarget.connect(
        request.name,
        kubeconfig=kubeconfig,
        context=str(options.get("context") or "") or None,
        in_cluster=bool(options.get("in_cluster", False)),
        service_account_dir=Path(
            str(options.get("service_account_dir") or connecting.SERVICE_ACCOUNT_DIR)
        ),
        allow_exec=bool(options.get("allow_exec", False)),
        timeout=float(options.get("timeout") or connecting.DEFAULT_TIMEOUT),
        record_path=request.state_dir / f"{request.name}.json",
    )


def connection(request: registry.Request) -> connecting.Connection:
    """A connection to the API of a ``kubernetes`` entry (or, with no options,
    to the cluster the process runs in), for what is not a target: the Leases
    of replica coordination. No request is sent yet."""
    options = request.options
    if not options:
        return connecting.connect(connecting.Settings(in_cluster=True))
    kubeconfig = str(options.get("kubeconfig") or "") or str(_default_kubeconfig())
    return connecting.connect(
        connecting.Settings(
            kubeconfig=Path(kubeconfig).expanduser(),
            context=str(options.get("context") or "") or None,
            in_cluster=bool(options.get("in_cluster", False)),
            allow_exec=bool(options.get("allow_exec", False)),
            timeout=float(options.get("timeout") or connecting.DEFAULT_TIMEOUT),
            service_account_dir=Path(
                str(options.get("service_account_dir") or connecting.SERVICE_ACCOUNT_DIR)
            ),
        )
    )


def _default_kubeconfig() -> Path:
    # The kubeconfig kubectl would use: the first of $KUBECONFIG, else ~/.kube/config.
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else Path.home() / ".kube" / "config"
