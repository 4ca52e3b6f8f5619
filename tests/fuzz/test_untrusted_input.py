"""Issue 11 (7): fuzzing every stage that reads what a repository, a forge or a user sends.

Targets: YAML/JSON loading, the render of a directory (object identity and
names), Kustomize and Helm request building (the paths a render would read),
webhook payload parsing, Application and Project parsing, and the sync
sequence itself. Invariant for all: the result is data or a *named gitward
error* (``gitward.errors.GitwardError``), never another exception; and a sync
whose render or plan fails applies and prunes nothing.

Inputs are structured (YAML documents built from Kubernetes-shaped values,
golden webhook payloads with fields replaced) and raw (text and bytes), so the
fuzzer reaches the parsers' deep branches instead of stopping at the first
syntax error.

CI runs ``FUZZ_EXAMPLES`` (default 300) cases per target, 2,100 in all;
``bench/fuzz.py`` runs the long campaign (see docs/security.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.config import applications
from gitward.diff import planning
from gitward.engine import metrics, reconciling
from gitward.model import operations, resources
from gitward.render import base, caching, helm, kustomize, loading, rendering, validating
from gitward.source import webhooks
from gitward.targets import base as targets_base
from gitward.testing import trees

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FUZZ_SEED") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
LIMITS = base.Limits(max_file_bytes=256 * 1024, max_total_bytes=1024 * 1024, max_documents=200)
GOLDEN = Path(__file__).parent.parent / "golden" / "webhooks"

# --- strategies ------------------------------------------------------------------------

# Strings a hostile repository would try: traversal, URLs, getters, odd unicode.
NASTY = st.sampled_from(
    [
        "",
        ".",
        "..",
        "../..",
        "/etc/passwd",
        "../../../namespaces/kube-system/configmaps/victim",
        "a/b",
        "a%2Fb",
        "git::https://github.com/org/repo//base?ref=v1",
        "https://example.com/x.yaml",
        "gh:org/repo",
        "file:///etc",
        "git@github.com:org/repo.git",
        "github.com/org/repo/base",
        "values.yaml",
        "base",
        "kustomization.yaml",
        "Chart.yaml",
        "*",
        "\x00",
        "é" * 3,
        "a" * 300,
        "UPPER",
        "system:controller:x",
        "-leading",
        "ok-name",
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=40))
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), TEXT
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "apiVersion",
            "kind",
            "Kind",
            "metadata",
            "name",
            "namespace",
            "generateName",
            "annotations",
            "labels",
            "items",
            "data",
            "spec",
            "resources",
            "bases",
            "components",
            "patches",
            "path",
            "configMapGenerator",
            "files",
            "dependencies",
            "repository",
            "valueFiles",
            "gitward.dev/hook",
        ]
    ),
    TEXT,
)
VALUES = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=12,
)
OBJECT = st.fixed_dictionaries(
    {
        "apiVersion": st.one_of(st.sampled_from(["v1", "apps/v1", "example.com/v1"]), SCALAR),
        "kind": st.one_of(
            st.sampled_from(["ConfigMap", "Namespace", "Service", "List", "ClusterRole"]), SCALAR
        ),
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.one_of(TEXT, SCALAR),
                    "namespace": st.one_of(TEXT, SCALAR),
                    "generateName": TEXT,
                    "annotations": st.one_of(
                        st.just({"gitward.dev/hook": "PreSync"}), st.dictionaries(TEXT, TEXT)
                    ),
                },
            ),
            VALUES,
        ),
    },
    optional={"items": st.lists(VALUES, max_size=3), "data": VALUES},
)


def _dump(documents: Sequence[Any]) -> str:
    return yaml.safe_dump_all(documents, allow_unicode=True, sort_keys=False)


@st.composite
def yaml_text(draw: st.DrawFn, documents: st.SearchStrategy[Any] = VALUES) -> bytes:
    """YAML built from values, then maybe mangled; or raw text or bytes."""
    choice = draw(st.integers(0, 3))
    if choice == 3:
        return draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    text = _dump(draw(st.lists(documents, min_size=1, max_size=4)))
    if choice == 2 and text:
        cut = draw(st.integers(0, len(text)))
        text = (
            text[:cut]
            + draw(st.sampled_from(["[", "{", ": ", "&a ", "*a", "\t", "---\n"]))
            + text[cut:]
        )
    return text.encode()


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*here, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*here, index)))
    return found


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` (a golden payload) with a few members replaced or removed."""
    value = json.loads(json.dumps(value))
    paths = _paths(value)
    for _ in range(draw(st.integers(1, 4))):
        path = paths[draw(st.integers(0, len(paths) - 1))]
        if not path:
            continue
        parent = value
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced that branch
    return value


# --- helpers ---------------------------------------------------------------------------


def named_errors_only(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; a gitward error is a fine outcome, anything else fails the test."""
    try:
        return call(*args, **kwargs)
    except errors.GitwardError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return None


@contextmanager
def repository(files: Mapping[str, bytes]) -> Iterator[trees.DirectoryTree]:
    with tempfile.TemporaryDirectory(prefix="gitward-fuzz-") as temp:
        root = Path(temp)
        for path, data in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        yield trees.DirectoryTree(root)


def request(tree: base.Tree, options: Mapping[str, Any] | None = None) -> base.RenderRequest:
    return base.RenderRequest(
        tree=tree, path="app", app="fuzz", namespace="ns", options=options or {}, limits=LIMITS
    )


def inside(paths: Sequence[str]) -> None:
    for path in paths:
        assert not path.startswith("/") and ".." not in path.split("/"), path


# --- targets -----------------------------------------------------------------------------


@FUZZ
@given(data=yaml_text(), as_json=st.sampled_from([None, True, False]))
def test_yaml_and_json_loading(data: bytes, as_json: bool | None) -> None:
    named_errors_only(loading.load, data, "fuzz.yaml", LIMITS, as_json=as_json)


@FUZZ
@given(data=yaml_text(st.one_of(OBJECT, VALUES)))
def test_a_rendered_object_always_has_a_safe_identity(data: bytes) -> None:
    with repository({"app/cm.yaml": data}) as tree:
        rendered = named_errors_only(
            rendering.render, request(tree), "directory", render_cache=caching.RenderCache()
        )
    for manifest in rendered.manifests if rendered is not None else ():
        # What reaches a target can become an API path only in its own segment.
        validating.check_object(manifest.body, manifest.source)
        for part in (manifest.key.name, manifest.key.namespace):
            assert "/" not in part and part not in (".", "..")


KUSTOMIZATION = st.dictionaries(
    st.sampled_from(
        [
            "resources",
            "bases",
            "components",
            "patches",
            "patchesStrategicMerge",
            "configMapGenerator",
            "generators",
            "crds",
            "openapi",
            "helmCharts",
            "namespace",
        ]
    ),
    st.one_of(
        st.lists(st.one_of(NASTY, st.fixed_dictionaries({"path": NASTY}), VALUES), max_size=4),
        st.lists(st.fixed_dictionaries({"name": TEXT, "files": st.lists(NASTY, max_size=3)})),
        VALUES,
    ),
    max_size=4,
)
KUSTOMIZE_OPTIONS = st.dictionaries(
    st.sampled_from(["namePrefix", "namespace", "images", "commonLabels", "allowRemoteBases"]),
    VALUES,
    max_size=3,
)


@FUZZ
@given(kustomization=st.one_of(KUSTOMIZATION, VALUES), options=KUSTOMIZE_OPTIONS)
# Found by bench/fuzz.py (seed 11): a TypeError instead of a named error.
@example(kustomization={"patches": True}, options={})
@example(kustomization={"configMapGenerator": True}, options={})
# Found by bench/fuzz.py: a name longer than the file system allows was an
# OSError (File name too long) instead of "does not exist".
@example(kustomization={"resources": ["a" * 300]}, options={})
@example(kustomization={"patches": [{"path": "b" * 400}]}, options={})
def test_kustomize_request_building_stays_in_the_repository(
    kustomization: Any, options: dict[str, Any]
) -> None:
    files = {
        "app/kustomization.yaml": _dump([kustomization]).encode(),
        "app/base/kustomization.yaml": b"resources: [cm.yaml]\n",
        "app/base/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "app/values.yaml": b"a: 1\n",
    }
    with repository(files) as tree:
        renderer = kustomize.KustomizeRenderer()
        paths = named_errors_only(renderer.inputs, request(tree, options))
    if paths is not None:
        inside(paths)


CHART = st.fixed_dictionaries(
    {"apiVersion": st.one_of(st.just("v2"), SCALAR), "name": TEXT, "version": TEXT},
    optional={
        "dependencies": st.lists(
            st.fixed_dictionaries(
                {"name": TEXT, "repository": st.one_of(NASTY, st.just("file://../lib"))},
                optional={"version": TEXT, "condition": TEXT},
            ),
            max_size=3,
        )
    },
)
HELM_OPTIONS = st.dictionaries(
    st.sampled_from(["valueFiles", "values", "set", "releaseName", "includeCRDs", "apiVersions"]),
    st.one_of(st.lists(NASTY, max_size=3), VALUES),
    max_size=4,
)


@FUZZ
@given(chart=st.one_of(CHART, VALUES), options=HELM_OPTIONS, values=yaml_text())
# Found by bench/fuzz.py (seed 1822130905): a TypeError instead of a named error.
@example(chart={"dependencies": True}, options={}, values=b"")
def test_helm_request_building_stays_in_the_repository(
    chart: Any, options: dict[str, Any], values: bytes
) -> None:
    files = {
        "app/Chart.yaml": _dump([chart]).encode(),
        "app/values.yaml": values,
        "app/templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "lib/Chart.yaml": b"apiVersion: v2\nname: lib\nversion: 0.1.0\n",
    }
    with repository(files) as tree:
        renderer = helm.HelmRenderer()
        paths = named_errors_only(renderer.inputs, request(tree, options))
    if paths is not None:
        inside(paths)


def _golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


PROVIDERS = {
    "github-push.json": (webhooks.Provider.GITHUB, {"X-GitHub-Event": "push"}),
    "gitlab-push.json": (webhooks.Provider.GITLAB, {"X-Gitlab-Event": "Push Hook"}),
    "gitea-push.json": (webhooks.Provider.GITEA, {"X-Gitea-Event": "push"}),
    "bitbucket-cloud-repo-push.json": (
        webhooks.Provider.BITBUCKET_CLOUD,
        {"X-Event-Key": "repo:push"},
    ),
    "bitbucket-server-repo-refs-changed.json": (
        webhooks.Provider.BITBUCKET_SERVER,
        {"X-Event-Key": "repo:refs_changed"},
    ),
}


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[webhooks.Provider, dict[str, str], bytes]:
    name = draw(st.sampled_from(sorted(PROVIDERS)))
    provider, headers = PROVIDERS[name]
    kind = draw(st.integers(0, 2))
    if kind == 0:
        body = json.dumps(draw(mutated(_golden(name))), default=str).encode()
    elif kind == 1:
        body = json.dumps(draw(VALUES), default=str).encode()
    else:
        body = draw(st.binary(max_size=200))
    return provider, {**headers, "Content-Type": "application/json"}, body


@FUZZ
@given(delivery=deliveries())
def test_webhook_payload_parsing(delivery: tuple[webhooks.Provider, dict[str, str], bytes]) -> None:
    provider, headers, body = delivery
    found = named_errors_only(webhooks.parse, provider, headers, body)
    for event in found or ():
        if isinstance(event, webhooks.PushEvent):
            assert event.repo_urls, event


APPLICATION = st.fixed_dictionaries(
    {
        "apiVersion": st.one_of(st.just("gitward.dev/v1"), SCALAR),
        "kind": st.one_of(st.sampled_from(["Application", "Project"]), SCALAR),
        "metadata": st.one_of(
            st.fixed_dictionaries({"name": TEXT}, optional={"project": TEXT, "labels": VALUES}),
            VALUES,
        ),
        "spec": st.one_of(
            st.fixed_dictionaries(
                {
                    "source": st.one_of(
                        st.fixed_dictionaries(
                            {"repoURL": TEXT, "path": NASTY}, optional={"ref": TEXT}
                        ),
                        VALUES,
                    ),
                    "destination": st.one_of(
                        st.fixed_dictionaries({"target": TEXT, "namespace": TEXT}), VALUES
                    ),
                },
                optional={
                    "syncPolicy": VALUES,
                    "render": VALUES,
                    "sourceRepos": st.lists(TEXT),
                    "destinations": VALUES,
                },
            ),
            VALUES,
        ),
    }
)


@FUZZ
@given(document=st.one_of(APPLICATION, VALUES))
def test_application_and_project_parsing(document: Any) -> None:
    for parse in (applications.parse, applications.parse_project):
        parsed = named_errors_only(parse, document, "apps/fuzz.yaml")
        if isinstance(parsed, applications.Application):
            # What an accepted Application says about paths stays inside its repository.
            inside([parsed.spec.source.path])


# --- the sequence: no apply and no prune after an error -------------------------------------


class RecordingTarget:
    """A target that records writes; one managed object (``keep``) is live."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.keep = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "keep",
                "namespace": "ns",
                "uid": "u1",
                "labels": {resources.APP_LABEL: "fuzz"},
                "annotations": {resources.TRACKING_ANNOTATION: "fuzz:/ConfigMap:ns/keep"},
            },
        }

    async def prepare(
        self, manifests: Sequence[resources.Manifest], *, app: str, namespace: str
    ) -> list[resources.Manifest]:
        prepared = []
        for manifest in manifests:
            body = json.loads(json.dumps(manifest.body))
            meta = body["metadata"]
            if manifest.key.kind != "Namespace":
                meta.setdefault("namespace", namespace)
            key = resources.ResourceKey.of(body)
            meta["labels"] = {**(meta.get("labels") or {}), resources.APP_LABEL: app}
            meta["annotations"] = {
                **(meta.get("annotations") or {}),
                resources.TRACKING_ANNOTATION: f"{app}:{key.group}/{key.kind}:"
                f"{key.namespace}/{key.name}",
            }
            prepared.append(resources.Manifest(key=key, body=body, source=manifest.source))
        return prepared

    async def read(self, keys: Sequence[resources.ResourceKey]) -> dict[Any, Any]:
        key = resources.ResourceKey.of(self.keep)
        return {key: self.keep} if key in keys else {}

    async def inventory(self, app: str) -> list[Mapping[str, Any]]:
        return [self.keep]

    async def dry_run(self, manifest: resources.Manifest, *, force: bool) -> Mapping[str, Any]:
        return manifest.body

    async def apply(self, manifest: resources.Manifest, *, force: bool) -> Any:
        self.writes.append(f"apply {manifest.key}")
        return targets_base.ApplyResult(
            manifest.key, targets_base.ApplyOutcome.CREATED, manifest.body
        )

    async def delete(self, key: resources.ResourceKey, *, uid: str = "") -> bool:
        self.writes.append(f"delete {key}")
        return True

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the fuzzed sync called target.{name}")


class Runtime:
    """What ``reconciling.sync`` needs of a Runtime, around one RecordingTarget."""

    def __init__(self, target: RecordingTarget) -> None:
        self._target = target
        self.concurrency = 2
        self.metrics = metrics.Metrics()

    def target(self, name: str) -> RecordingTarget:
        return self._target


APP = applications.parse(
    {
        "apiVersion": "gitward.dev/v1",
        "kind": "Application",
        "metadata": {"name": "fuzz"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/org/x.git", "path": "app"},
            "destination": {"target": "t", "namespace": "ns"},
            "syncPolicy": {"automated": {"prune": True}},
        },
    },
    "fuzz",
)
KEEP = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\n"


@FUZZ
@given(data=yaml_text(st.one_of(OBJECT, VALUES)))
def test_a_failed_sync_applies_and_prunes_nothing(data: bytes) -> None:
    target = RecordingTarget()
    with repository({"app/keep.yaml": KEEP, "app/fuzz.yaml": data}) as tree:

        async def desired_state(*args: Any, **kwargs: Any) -> reconciling.Desired:
            rendered = rendering.render(request(tree), render_cache=caching.RenderCache())
            planning.check_duplicates(rendered.manifests)
            return reconciling.Desired(operations.Revision(sha="f" * 40, ref="main"), rendered)

        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(reconciling, "desired_state", desired_state)
            report = asyncio.run(
                reconciling.sync(
                    Runtime(target),  # type: ignore[arg-type]
                    APP,
                    trigger="fuzz",
                    project=None,
                )
            )
    if report.error is not None:
        assert target.writes == [], (report.error, target.writes)
    # `keep` is in Git whatever the fuzzed file says: never pruned.
    assert "delete ConfigMap ns/keep" not in target.writes
    assert isinstance(report.error, errors.GitwardError | None)
