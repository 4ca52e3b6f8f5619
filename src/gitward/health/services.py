"""Health of Services, as Argo CD assesses them.

Registered by ``assessing`` for the core ``Service``: a LoadBalancer Service
is Progressing until the cloud gives it an address; every other type is
Healthy as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitward.health import _fields
from gitward.model import status


def load_balancer_addresses(obj: Mapping[str, Any]) -> list[str]:
    """The ingress IPs/hostnames of ``status.loadBalancer`` (Services and Ingresses)."""
    balancer = _fields.section(_fields.status(obj), "loadBalancer")
    return [
        _fields.text(entry.get("ip")) or _fields.text(entry.get("hostname")) or "(address)"
        for entry in _fields.items(balancer.get("ingress"))
    ]


def service(obj: Mapping[str, Any]) -> status.HealthResult:
    if _fields.text(_fields.spec(obj).get("type")) != "LoadBalancer":
        return status.HealthResult(status.HealthStatus.HEALTHY)
    addresses = load_balancer_addresses(obj)
    if addresses:
        return status.HealthResult(
            status.HealthStatus.HEALTHY, f"load balancer at {', '.join(addresses)}"
        )
    return status.HealthResult(
        status.HealthStatus.PROGRESSING, "Waiting for the load balancer to get an address"
    )
