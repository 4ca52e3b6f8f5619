"""Repository URL normalisation for matching webhook payloads to Applications."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitward import errors
from gitward.source import webhooks

SAME = [
    (
        "github.com/org/repo",
        [
            "https://github.com/Org/Repo.git",
            "https://github.com/org/repo",
            "git@github.com:org/repo.git",
            "ssh://git@github.com/org/repo.git",
            "git://github.com/org/repo.git",
            "http://github.com/org/repo/",
            "https://GitHub.com:443/org/repo.git/",
            "ssh://git@github.com:22/org/repo",
            "git+ssh://git@github.com/org/repo",
            "https://x-access-token:ghp_secret@github.com/org/repo.git",
            "https://github.com/org/repo.git?ref=main#frag",
            "https://github.com//org//repo",
            "  https://github.com/org/repo\n",
            "github.com/org/repo",
        ],
    ),
    (
        "gitlab.com/group/sub/project",
        ["https://gitlab.com/Group/Sub/Project.git", "git@gitlab.com:group/sub/project.git"],
    ),
    (
        "bitbucket.org/acme/deploy",
        ["https://erica@bitbucket.org/acme/deploy.git", "git@bitbucket.org:Acme/Deploy.git"],
    ),
    (
        "git.example.com/Platform/Deploy",
        [
            "https://git.example.com/Platform/Deploy.git",
            "git@git.example.com:Platform/Deploy.git",
            "ssh://git@GIT.EXAMPLE.COM/Platform/Deploy",
            "http://git.example.com:80/Platform/Deploy",
        ],
    ),
    (
        "git.example.com:2222/platform/deploy",
        [
            "ssh://git@git.example.com:2222/platform/deploy.git",
            "https://git.example.com:2222/platform/deploy",
            "git.example.com:2222/platform/deploy",
            "ssh://git@git.example.com:02222/platform/deploy",
        ],
    ),
    ("git.example.com:8443/r", ["https://git.example.com:8443/r"]),
    ("[::1]:2222/org/repo", ["ssh://git@[::1]:2222/org/repo.git", "[::1]:2222/org/repo"]),
    ("[::1]/org/repo", ["https://[::1]/org/repo", "git@[::1]:org/repo.git"]),
    ("host/1234/repo", ["git@host:1234/repo.git"]),
    (
        "/srv/git/deploy",
        ["/srv/git/deploy.git", "file:///srv/git/deploy.git/", "/srv//git/deploy/"],
    ),
]


@pytest.mark.parametrize(("key", "urls"), SAME)
def test_forms_of_one_repository_compare_equal(key: str, urls: list[str]) -> None:
    for url in urls:
        assert webhooks.normalise_url(url) == key, url


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Self-hosted forges may be case-sensitive: keep the path's case.
        ("https://git.example.com/Org/Repo", "https://git.example.com/org/repo"),
        ("https://github.com/org/repo", "https://github.com/org/repo2"),
        ("https://github.com/org/repo", "https://gitlab.com/org/repo"),
        ("https://git.example.com:2222/org/repo", "https://git.example.com/org/repo"),
        ("https://github.com/org/repo/sub", "https://github.com/org/repo"),
    ],
)
def test_different_repositories_stay_different(left: str, right: str) -> None:
    assert webhooks.normalise_url(left) != webhooks.normalise_url(right)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("https:///org/repo", "has no host"),
        ("https://user:hunter2@host:port/repo", "invalid port"),
        ("ssh://git@host:123456/repo", "invalid port"),
    ],
)
def test_unusable_urls(url: str, message: str) -> None:
    with pytest.raises(errors.InputError, match=message) as caught:
        webhooks.normalise_url(url)
    assert "hunter2" not in str(caught.value)


_hosts = st.sampled_from(["github.com", "GitLab.com", "git.example.com", "[::1]", "10.0.0.7", "h"])
_segments = st.lists(
    st.text(alphabet="abcXYZ09-_.~@:", min_size=1, max_size=8), min_size=0, max_size=4
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    host = draw(_hosts)
    path = "/".join(draw(_segments)) + draw(st.sampled_from(["", ".git", "/", ".git/"]))
    port = draw(st.sampled_from(["", ":22", ":443", ":2222", ":7999"]))
    user = draw(st.sampled_from(["", "git@", "u:p@"]))
    form = draw(st.sampled_from(["https", "ssh", "git", "http", "scp", "bare", "file"]))
    if form == "scp":
        return f"{user.split(':')[0]}{host}:{path}"
    if form == "bare":
        return f"{host}{port}/{path}"
    if form == "file":
        return f"file:///{path}"
    return f"{form}://{user}{host}{port}/{path}"


@settings(max_examples=500, deadline=None)
@given(url=_urls() | st.text(max_size=60))
def test_normalise_url_is_idempotent(url: str) -> None:
    try:
        key = webhooks.normalise_url(url)
    except errors.InputError:
        return
    assert webhooks.normalise_url(key) == key
