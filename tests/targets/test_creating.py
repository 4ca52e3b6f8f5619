"""Create (generateName hooks), replace (Replace=true) and the earlier runs of
generated hooks, against the Kubernetes API test server; SkipDryRunOnMissingResource
in prepare."""

from __future__ import annotations

import pytest
from kubeobjects import configmap, deploy, manifest, namespace

from gitward import errors
from gitward.model import resources
from gitward.targets import base
from gitward.targets.kubernetes import KubernetesTarget


def _job(generate: str) -> resources.Manifest:
    return manifest(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "generateName": generate,
                "annotations": {"argocd.argoproj.io/hook": "PreSync"},
            },
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "run", "image": "busybox:1"}],
                    }
                }
            },
        }
    )


async def test_generated_hooks_are_named_by_the_server_and_found_again(
    target: KubernetesTarget,
) -> None:
    await deploy(target, "app", "jobs", namespace("jobs"))
    [hook] = await target.prepare([_job("migrate-")], app="app", namespace="jobs")
    assert hook.key.name == "migrate-*"
    assert hook.body["metadata"]["annotations"][resources.TRACKING_ANNOTATION] == (
        "app:batch/Job:jobs/migrate-*"
    )
    first = await target.create(hook)
    second = await target.create(hook)
    assert first.outcome is base.ApplyOutcome.CREATED
    names = {first.key.name, second.key.name}
    assert len(names) == 2 and all(n.startswith("migrate-") and n != "migrate-*" for n in names)
    runs = await target.hook_runs("app", hook.key)
    assert {resources.ResourceKey.of(obj).name for obj in runs} == names
    # Another Application's runs of a hook with the same prefix are not ours.
    [foreign] = await target.prepare([_job("migrate-")], app="other", namespace="jobs")
    await target.create(foreign)
    assert len(await target.hook_runs("app", hook.key)) == 2


async def test_replace_puts_the_whole_object_or_creates_it(target: KubernetesTarget) -> None:
    await deploy(target, "app", "web", namespace("web"))
    [cm] = await target.prepare([configmap("settings", a="1", b="2")], app="app", namespace="web")
    created = await target.replace(cm)
    assert created.outcome is base.ApplyOutcome.CREATED
    [smaller] = await target.prepare([configmap("settings", a="3")], app="app", namespace="web")
    replaced = await target.replace(smaller)
    assert replaced.outcome is base.ApplyOutcome.CONFIGURED
    live = (await target.read([cm.key]))[cm.key]
    assert live is not None and live["data"] == {"a": "3"}  # b is gone: a replace, not a merge
    assert (await target.replace(smaller)).outcome is base.ApplyOutcome.UNCHANGED


async def test_skip_dry_run_on_missing_resource_accepts_an_unserved_kind(
    target: KubernetesTarget,
) -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
    }
    with pytest.raises(errors.ApplyError, match="does not serve kind Widget"):
        await target.prepare([manifest(widget)], app="app", namespace="web")
    widget["metadata"]["annotations"] = {
        "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"
    }
    [prepared] = await target.prepare([manifest(widget)], app="app", namespace="web")
    assert prepared.key.namespace == "web"
    with pytest.raises(errors.ApplyError, match="does not serve kind Widget"):
        await target.apply(prepared, force=False)  # still missing at apply time: an error
