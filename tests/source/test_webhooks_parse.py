"""Webhook payload parsing: golden payloads per provider, malformed payloads,
and property tests (hostile bodies only ever raise WebhookRejected)."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.source import webhooks
from gitward.source.webhooks import events

GOLDEN = Path(__file__).parent.parent / "golden" / "webhooks"
A = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
B = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
C = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
T = "9f4e2b7c3a1d5e6f708192a3b4c5d6e7f8091a2b"
Z = "0" * 40
P = webhooks.Provider

GITHUB_URLS = frozenset({"github.com/octo-org/deploy"})
GITLAB_URLS = frozenset({"gitlab.example.com/platform/Deploy"})
GITEA_URLS = frozenset({"git.example.com/platform/deploy", "git.example.com:2222/platform/deploy"})
BB_CLOUD_URLS = frozenset({"bitbucket.org/acme/deploy"})
BB_SERVER_URLS = frozenset(
    {"bitbucket.example.com:7999/ops/deploy", "bitbucket.example.com/scm/ops/deploy"}
)

HEADERS: dict[str, dict[str, str]] = {
    "github-push": {"X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e"},
    "github-push-tag": {"X-GitHub-Event": "push"},
    "github-push-delete": {"X-GitHub-Event": "push"},
    "github-ping": {"X-GitHub-Event": "ping"},
    "gitlab-push": {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "13792a34"},
    "gitlab-tag-push": {"X-Gitlab-Event": "Tag Push Hook"},
    "gitea-push": {"X-Gitea-Event": "push", "X-Gogs-Event": "push", "X-GitHub-Event": "push"},
    "gitea-test": {"X-Gitea-Event": "push", "X-Gogs-Event": "push", "X-GitHub-Event": "push"},
    "gitea-delete": {"X-Gitea-Event": "delete", "X-Gogs-Event": "delete"},
    "bitbucket-cloud-repo-push": {"X-Event-Key": "repo:push", "X-Hook-UUID": "cb0f3e1a"},
    "bitbucket-server-repo-refs-changed": {"X-Event-Key": "repo:refs_changed", "X-Request-Id": "1"},
    "bitbucket-server-diagnostics-ping": {"X-Event-Key": "diagnostics:ping", "X-Request-Id": "2"},
}


def golden(name: str) -> bytes:
    return (GOLDEN / f"{name}.json").read_bytes()


def push(provider: webhooks.Provider, urls: frozenset[str], **fields: Any) -> events.PushEvent:
    defaults: dict[str, Any] = {"deleted": False, "changed_paths": None, "pusher": ""}
    return events.PushEvent(provider=provider, repo_urls=urls, **(defaults | fields))


EXPECTED: dict[str, tuple[events.Event, ...]] = {
    "github-push": (
        push(
            P.GITHUB,
            GITHUB_URLS,
            ref="refs/heads/main",
            before=A,
            after=C,
            pusher="mona",
            changed_paths=frozenset(
                {
                    "web/overlays/staging/kustomization.yaml",
                    "db/base/secret.enc.yaml",
                    "db/base/kustomization.yaml",
                    "db/base/job-migrate.yaml",
                }
            ),
        ),
    ),
    "github-push-tag": (
        push(P.GITHUB, GITHUB_URLS, ref="refs/tags/v1.4.0", before=Z, after=T, pusher="mona"),
    ),
    "github-push-delete": (
        push(
            P.GITHUB,
            GITHUB_URLS,
            ref="refs/heads/feature/old",
            before=B,
            after=Z,
            deleted=True,
            pusher="mona",
        ),
    ),
    "github-ping": (events.PingEvent(P.GITHUB, GITHUB_URLS),),
    "gitlab-push": (
        push(P.GITLAB, GITLAB_URLS, ref="refs/heads/main", before=A, after=C, pusher="jsmith"),
    ),
    "gitlab-tag-push": (
        push(P.GITLAB, GITLAB_URLS, ref="refs/tags/v1.4.0", before=Z, after=T, pusher="jsmith"),
    ),
    "gitea-push": (
        push(P.GITEA, GITEA_URLS, ref="refs/heads/main", before=A, after=C, pusher="gitea-admin"),
    ),
    "gitea-test": (events.PingEvent(P.GITEA, GITEA_URLS),),
    "gitea-delete": (
        push(
            P.GITEA,
            GITEA_URLS,
            ref="refs/heads/feature/old",
            before="",
            after=Z,
            deleted=True,
            pusher="gitea-admin",
        ),
    ),
    "bitbucket-cloud-repo-push": (
        push(
            P.BITBUCKET_CLOUD,
            BB_CLOUD_URLS,
            ref="refs/heads/main",
            before=A,
            after=C,
            pusher="erica",
        ),
        push(
            P.BITBUCKET_CLOUD,
            BB_CLOUD_URLS,
            ref="refs/tags/v1.4.0",
            before=Z,
            after=T,
            pusher="erica",
        ),
        push(
            P.BITBUCKET_CLOUD,
            BB_CLOUD_URLS,
            ref="refs/heads/feature/old",
            before=B,
            after=Z,
            deleted=True,
            pusher="erica",
        ),
    ),
    "bitbucket-server-repo-refs-changed": (
        push(
            P.BITBUCKET_SERVER,
            BB_SERVER_URLS,
            ref="refs/heads/main",
            before=A,
            after=C,
            pusher="admin",
        ),
        push(
            P.BITBUCKET_SERVER,
            BB_SERVER_URLS,
            ref="refs/heads/feature/old",
            before=B,
            after=Z,
            deleted=True,
            pusher="admin",
        ),
    ),
    "bitbucket-server-diagnostics-ping": (events.PingEvent(P.BITBUCKET_SERVER, frozenset()),),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_payload(name: str) -> None:
    headers = HEADERS[name] | {"Content-Type": "application/json"}
    provider = webhooks.detect(headers)
    assert provider is not None
    assert webhooks.parse(provider, headers, golden(name)) == EXPECTED[name]


def test_every_golden_file_is_tested() -> None:
    assert {path.stem for path in GOLDEN.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize(
    ("headers", "provider"),
    [
        ({"X-GitHub-Event": "push"}, P.GITHUB),
        ({"x-github-event": "push"}, P.GITHUB),
        ({"X-GITLAB-EVENT": "Push Hook"}, P.GITLAB),
        # Gitea sends GitHub's and Gogs' headers too; Forgejo sends Gitea's.
        ({"X-Gitea-Event": "push", "X-GitHub-Event": "push", "X-Gogs-Event": "push"}, P.GITEA),
        ({"X-Forgejo-Event": "push", "X-Gitea-Event": "push", "X-GitHub-Event": "push"}, P.FORGEJO),
        ({"X-Gogs-Event": "push"}, P.GOGS),
        ({"X-Event-Key": "repo:push", "X-Hook-UUID": "x"}, P.BITBUCKET_CLOUD),
        ({"X-Event-Key": "repo:push"}, P.BITBUCKET_CLOUD),
        ({"X-Event-Key": "repo:refs_changed", "X-Request-Id": "x"}, P.BITBUCKET_SERVER),
        ({"X-Event-Key": "repo:refs_changed"}, P.BITBUCKET_SERVER),
        ({"X-Event-Key": "diagnostics:ping"}, P.BITBUCKET_SERVER),
        ({"Content-Type": "application/json"}, None),
        ({}, None),
    ],
)
def test_detect(headers: dict[str, str], provider: webhooks.Provider | None) -> None:
    assert webhooks.detect(headers) == provider


def test_push_event_matches_any_url_form() -> None:
    (event,) = webhooks.parse(P.GITHUB, HEADERS["github-push"], golden("github-push"))
    assert isinstance(event, events.PushEvent)
    for url in (
        "https://github.com/octo-org/deploy",
        "https://github.com/Octo-Org/Deploy.git",
        "git@github.com:octo-org/deploy.git",
        "ssh://git@github.com/Octo-Org/Deploy",
        "https://token:x-oauth@github.com/octo-org/deploy/",
    ):
        assert event.matches(url), url
    assert not event.matches("https://github.com/octo-org/deploy-other")
    assert not event.matches("https://gitlab.com/octo-org/deploy")
    assert not event.matches("")
    assert event.is_branch and not event.is_tag and not event.created


def test_forgejo_and_gogs_use_the_gitea_parser() -> None:
    body = golden("gitea-push")
    forgejo = {"X-Forgejo-Event": "push", "X-Gitea-Event": "push"}
    (event,) = webhooks.parse(P.FORGEJO, forgejo, body)
    assert isinstance(event, events.PushEvent) and event.provider is P.FORGEJO
    (event,) = webhooks.parse(P.GOGS, {"X-Gogs-Event": "push"}, body)
    assert isinstance(event, events.PushEvent) and event.after == C


def test_github_form_encoded_payload() -> None:
    body = urlencode({"payload": golden("github-push").decode()}).encode()
    headers = HEADERS["github-push"] | {"Content-Type": "application/x-www-form-urlencoded"}
    assert webhooks.parse(P.GITHUB, headers, body) == EXPECTED["github-push"]


@pytest.mark.parametrize(
    "body",
    [b"payload=%7B&payload=%7B%7D", b"other=1", b"payload=%FF%FE", b"\xff=1"],
)
def test_bad_form_bodies(body: bytes) -> None:
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/x-www-form-urlencoded"}
    with pytest.raises(webhooks.WebhookRejected, match="github webhook"):
        webhooks.parse(P.GITHUB, headers, body)


def test_other_events_are_ignored_without_decoding() -> None:
    cases = [
        (P.GITHUB, {"X-GitHub-Event": "issues"}, "issues"),
        (P.GITHUB, {"X-GitHub-Event": "delete"}, "delete"),
        (P.GITLAB, {"X-Gitlab-Event": "Merge Request Hook"}, "Merge Request Hook"),
        (P.GITEA, {"X-Gitea-Event": "pull_request"}, "pull_request"),
        (P.BITBUCKET_CLOUD, {"X-Event-Key": "pullrequest:created"}, "pullrequest:created"),
        (P.BITBUCKET_SERVER, {"X-Event-Key": "pr:opened"}, "pr:opened"),
    ]
    for provider, headers, name in cases:
        assert webhooks.parse(provider, headers, b"not json at all") == (
            events.IgnoredEvent(provider, name),
        )


def test_github_organisation_ping_has_no_repository() -> None:
    payload = json.loads(golden("github-ping"))
    del payload["repository"]
    body = json.dumps(payload).encode()
    assert webhooks.parse(P.GITHUB, {"X-GitHub-Event": "ping"}, body) == (
        events.PingEvent(P.GITHUB, frozenset()),
    )


def test_bitbucket_cloud_push_without_changes_is_ignored() -> None:
    payload = json.loads(golden("bitbucket-cloud-repo-push"))
    payload["push"]["changes"] = []
    body = json.dumps(payload).encode()
    assert webhooks.parse(P.BITBUCKET_CLOUD, {"X-Event-Key": "repo:push"}, body) == (
        events.IgnoredEvent(P.BITBUCKET_CLOUD, "repo:push without ref changes"),
    )


def _gitlab_system_hook(kind: str) -> bytes:
    payload = json.loads(golden("gitlab-push"))
    payload["event_name"] = kind
    return json.dumps(payload).encode()


def test_gitlab_system_hook_push_and_other_kinds() -> None:
    headers = {"X-Gitlab-Event": "System Hook"}
    (event,) = webhooks.parse(P.GITLAB, headers, _gitlab_system_hook("push"))
    assert isinstance(event, events.PushEvent) and event.ref == "refs/heads/main"
    assert webhooks.parse(P.GITLAB, headers, _gitlab_system_hook("project_create")) == (
        events.IgnoredEvent(P.GITLAB, "System Hook project_create"),
    )


def _github(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(golden("github-push"))
    payload.update(changes)
    return payload


def _github_event(payload: dict[str, Any]) -> events.PushEvent:
    (event,) = webhooks.parse(P.GITHUB, {"X-GitHub-Event": "push"}, json.dumps(payload).encode())
    assert isinstance(event, events.PushEvent)
    return event


def _many_commits(count: int) -> list[dict[str, Any]]:
    commit = _github()["commits"][0]
    return [dict(commit, id=f"{i:040x}") for i in range(count)]


def _big_commit() -> list[dict[str, Any]]:
    commit = _github()["commits"][0]
    return [dict(commit, added=[f"f{i}" for i in range(3000)])]


def _without_file_lists() -> list[dict[str, Any]]:
    commit = dict(_github()["commits"][0])
    del commit["modified"]
    return [commit]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"forced": True}, "a force push drops commits the list does not show"),
        ({"forced": None}, "unknown whether forced"),
        ({"created": True, "before": Z}, "a new ref has no before to compare with"),
        ({"commits": []}, "no commit listed"),
        ({"commits": None}, "no commit list"),
        ({"commits": _many_commits(20)}, "the commit list may be truncated at 20"),
        ({"commits": _big_commit()}, "a commit's file list may be truncated"),
        ({"commits": _without_file_lists()}, "file lists missing (Actions-style payload)"),
    ],
)
def test_github_changed_paths_only_when_complete(changes: dict[str, Any], why: str) -> None:
    assert _github_event(_github(**changes)).changed_paths is None, why


def test_github_changed_paths_below_the_limits() -> None:
    event = _github_event(_github(commits=_many_commits(19)))
    assert event.changed_paths == frozenset({"web/overlays/staging/kustomization.yaml"})


def test_github_sha256_repository_and_uppercase_ids() -> None:
    event = _github_event(_github(before="AB" * 32, after="cd" * 32))
    assert (event.before, event.after) == ("ab" * 32, "cd" * 32)


def _set(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

MALFORMED = [
    ("github-push", "ref", _DELETE, "field ref is missing"),
    ("github-push", "ref", 7, "field ref must be a string, not a number"),
    ("github-push", "ref", "main", "field ref is not a valid ref name"),
    ("github-push", "ref", "refs/heads/a..b", "field ref is not a valid ref name"),
    ("github-push", "ref", "refs/heads/x\nInjected: 1", "field ref is not a valid ref name"),
    ("github-push", "before", "HEAD~1", "field before is not a commit id"),
    ("github-push", "after", None, "field after is missing"),
    ("github-push", "repository", [], "field repository must be an object, not an array"),
    ("github-push", "repository", {"name": "x"}, "no usable repository URL"),
    ("github-push", "deleted", "yes", "field deleted must be a boolean, not a string"),
    ("github-push", "commits", {}, "field commits must be an array, not an object"),
    ("github-push", "commits.0.added", [1], r"field commits\[0\]\.added\[0\] must be a string"),
    ("gitlab-push", "project", _DELETE, None),
    ("gitlab-push", "after", 12, "field after must be a string, not a number"),
    ("gitea-push", "repository", _DELETE, "field repository is missing"),
    ("gitea-push", "repository.clone_url", True, r"repository\.clone_url must be a string"),
    ("gitea-delete", "ref_type", "release", "field ref_type must be branch or tag"),
    ("gitea-delete", "ref", "bad name", "field ref is not a valid ref name"),
    ("bitbucket-cloud-repo-push", "push", _DELETE, "field push is missing"),
    ("bitbucket-cloud-repo-push", "push.changes.0.new.type", "bookmark", "must be branch or tag"),
    ("bitbucket-cloud-repo-push", "push.changes.0.new.target.hash", "abc", "not a commit id"),
    ("bitbucket-cloud-repo-push", "repository.links.html", _DELETE, "links.html is missing"),
    ("bitbucket-server-repo-refs-changed", "changes.0.type", "MOVE", "ADD, UPDATE or DELETE"),
    ("bitbucket-server-repo-refs-changed", "changes.0.toHash", 1, "toHash must be a string"),
    ("bitbucket-server-repo-refs-changed", "repository.links.clone", [], "no usable repository"),
]


@pytest.mark.parametrize(("name", "path", "value", "message"), MALFORMED)
def test_malformed_payloads_name_provider_and_field(
    name: str, path: str, value: Any, message: str | None
) -> None:
    payload = json.loads(golden(name))
    if name == "gitlab-push" and path == "project":
        del payload["repository"]
        message = "field project is missing"
    _set(payload, path, value)
    headers = HEADERS[name]
    provider = webhooks.detect(headers)
    assert provider is not None
    with pytest.raises(webhooks.WebhookRejected, match=str(message)) as caught:
        webhooks.parse(provider, headers, json.dumps(payload).encode())
    assert str(caught.value).startswith(f"{provider} webhook")
    assert caught.value.status == 400
    assert isinstance(caught.value, errors.InputError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b"null", "must be a JSON object, not null"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_json_objects(body: bytes, message: str) -> None:
    for provider, name in (
        (P.GITHUB, "github-push"),
        (P.GITLAB, "gitlab-push"),
        (P.GITEA, "gitea-push"),
        (P.BITBUCKET_CLOUD, "bitbucket-cloud-repo-push"),
        (P.BITBUCKET_SERVER, "bitbucket-server-repo-refs-changed"),
    ):
        with pytest.raises(
            webhooks.WebhookRejected, match=f"{provider} webhook payload.*{message}"
        ):
            webhooks.parse(provider, HEADERS[name], body)


def test_missing_event_header() -> None:
    with pytest.raises(webhooks.WebhookRejected, match="no x-gitlab-event header"):
        webhooks.parse(P.GITLAB, {"X-Gitlab-Token": "t"}, golden("gitlab-push"))


# --- properties ---------------------------------------------------------------

_EVENT_HEADERS = [
    (provider, headers)
    for name, headers in HEADERS.items()
    for provider in [webhooks.detect(headers)]
    if provider is not None
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(_EVENT_HEADERS) - 1), body=st.binary(max_size=300))
def test_random_bytes_only_raise_webhook_rejected(index: int, body: bytes) -> None:
    provider, headers = _EVENT_HEADERS[index]
    with contextlib.suppress(webhooks.WebhookRejected):
        webhooks.parse(provider, headers, body)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(_EVENT_HEADERS) - 1), document=_json)
def test_random_json_only_raises_webhook_rejected(index: int, document: Any) -> None:
    provider, headers = _EVENT_HEADERS[index]
    with contextlib.suppress(webhooks.WebhookRejected):
        webhooks.parse(provider, headers, json.dumps(document).encode())


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


_GOLDEN_DOCS = {name: json.loads(golden(name)) for name in HEADERS}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_golden_payloads_only_raise_webhook_rejected(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(HEADERS)))
    payload = copy.deepcopy(_GOLDEN_DOCS[name])
    paths = _paths(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        node = payload
        try:
            for key in path[:-1]:
                node = node[key]
            replacement = data.draw(_json | st.just(_DELETE))
            if replacement is _DELETE and isinstance(node, dict):
                del node[path[-1]]
            elif replacement is not _DELETE:
                node[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped this path
    headers = HEADERS[name]
    provider = webhooks.detect(headers)
    assert provider is not None
    try:
        result = webhooks.parse(provider, headers, json.dumps(payload).encode())
    except webhooks.WebhookRejected:
        return
    for event in result:
        if isinstance(event, events.PushEvent):
            assert event.ref.startswith("refs/") and event.repo_urls
