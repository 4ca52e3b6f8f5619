"""Charts from a real HTTP Helm repository (archives and index made by the Helm SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import archives, charts, credentials
from tests import chartrepos


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[chartrepos.HelmRepo]:
    with chartrepos.serving(tmp_path / "served") as served:
        for version in ("4.10.0", "4.11.2", "5.0.0"):
            served.add(
                chartrepos.package(tmp_path, "ingress", version, destination=tmp_path / "dist")
            )
        yield served


def make_charts(tmp_path: Path, **limits: int) -> charts.Charts:
    return charts.Charts(tmp_path / "cache", limits=archives.Limits(**limits))


async def test_range_picks_the_highest_allowed_version(
    tmp_path: Path, repo: chartrepos.HelmRepo
) -> None:
    source = make_charts(tmp_path)
    spec = charts.ChartSpec(repo.url, chart="ingress", version=">=4.10 <5")
    revision = await source.resolve(spec)
    assert (revision.chart, revision.version) == ("ingress", "4.11.2")
    assert revision.digest.startswith("sha256:")
    tree = source.tree(revision)
    assert b"name: ingress" in tree.read("Chart.yaml")
    assert tree.kind("templates/configmap.yaml") == "file"
    # Widening the range picks the newer version.
    wider = await source.resolve(charts.ChartSpec(repo.url, chart="ingress", version=">=4.10"))
    assert wider.version == "5.0.0"


async def test_index_is_asked_again_conditionally_and_archives_come_from_the_cache(
    tmp_path: Path, repo: chartrepos.HelmRepo
) -> None:
    source = make_charts(tmp_path)
    spec = charts.ChartSpec(repo.url, chart="ingress", version="4.11.2")
    first = await source.resolve(spec)
    again = await source.resolve(spec)
    assert first == again
    assert [status for path, status in repo.requests if path == "/index.yaml"] == [200, 304]
    assert sum(1 for path, _ in repo.requests if path.endswith(".tgz")) == 1
    # A new process (a new Charts over the same cache) asks conditionally too.
    fresh = make_charts(tmp_path)
    assert (await fresh.resolve(spec)).digest == first.digest
    assert [status for path, status in repo.requests if path == "/index.yaml"][-1] == 304


async def test_pin_serves_the_same_archive_without_the_range(
    tmp_path: Path, repo: chartrepos.HelmRepo
) -> None:
    source = make_charts(tmp_path)
    old = await source.resolve(charts.ChartSpec(repo.url, chart="ingress", version="4.10.0"))
    pinned = await source.resolve(
        charts.ChartSpec(repo.url, chart="ingress", version=">=5"), pin=old.pin
    )
    assert pinned.version == "4.10.0" and pinned.digest == old.digest


async def test_missing_version_names_the_chart_and_the_newest(
    tmp_path: Path, repo: chartrepos.HelmRepo
) -> None:
    source = make_charts(tmp_path)
    with pytest.raises(errors.RevisionNotFound, match=r"chart ingress from .*>=6.*newest is 5.0.0"):
        await source.resolve(charts.ChartSpec(repo.url, chart="ingress", version=">=6"))
    with pytest.raises(errors.RevisionNotFound, match="has no chart 'nginx'"):
        await source.resolve(charts.ChartSpec(repo.url, chart="nginx"))


async def test_digest_mismatch_is_refused_and_not_cached(
    tmp_path: Path, repo: chartrepos.HelmRepo
) -> None:
    repo.tamper_digest("ingress", "5.0.0")
    source = make_charts(tmp_path)
    with pytest.raises(errors.SourceRejected, match=r"chart ingress 5.0.0 .*differs from"):
        await source.resolve(charts.ChartSpec(repo.url, chart="ingress", version="5.0.0"))
    assert not list((tmp_path / "cache").glob("blobs/sha256/*.tgz"))


async def test_unreachable_repository_names_the_chart(tmp_path: Path) -> None:
    source = make_charts(tmp_path)
    spec = charts.ChartSpec("http://127.0.0.1:9/charts", chart="ingress", version="1.0.0")
    with pytest.raises(errors.SourceUnavailable, match=r"127.0.0.1:9/charts"):
        await source.resolve(spec)


async def test_oversized_archive_is_refused(tmp_path: Path, repo: chartrepos.HelmRepo) -> None:
    source = make_charts(tmp_path, max_archive_bytes=100)
    with pytest.raises(errors.SourceRejected, match=r"chart ingress 4.11.2 .*100-byte limit"):
        await source.resolve(charts.ChartSpec(repo.url, chart="ingress", version="4.11.2"))


@pytest.mark.parametrize(
    "entry", ["evil/../../outside.yaml", "/etc/evil.yaml", "evil/templates/../../../x"]
)
async def test_archive_with_escaping_paths_is_refused(
    tmp_path: Path, repo: chartrepos.HelmRepo, entry: str
) -> None:
    repo.add_unchecked("evil", "1.0.0", chartrepos.evil_archive("evil", "1.0.0", entry))
    source = make_charts(tmp_path)
    with pytest.raises(errors.SourceRejected, match=r"chart evil 1.0.0 .*entry"):
        await source.resolve(charts.ChartSpec(repo.url, chart="evil", version="1.0.0"))
    assert not (tmp_path / "outside.yaml").exists()


async def test_credentials_are_sent_and_refusal_is_named(tmp_path: Path) -> None:
    with chartrepos.serving(tmp_path / "private", username="ci", password="s3cret") as private:
        private.add(chartrepos.package(tmp_path, "app", "1.0.0", destination=tmp_path / "d"))
        (tmp_path / "password").write_text("s3cret\n")
        good = charts.Access(
            username="ci", password=credentials.SecretRef(file=tmp_path / "password")
        )
        source = charts.Charts(tmp_path / "cache", access=lambda _url: good)
        revision = await source.resolve(charts.ChartSpec(private.url, chart="app"))
        assert revision.version == "1.0.0"
        anonymous = charts.Charts(tmp_path / "cache2")
        with pytest.raises(errors.SourceRejected, match="refused access") as refused:
            await anonymous.resolve(charts.ChartSpec(private.url, chart="app"))
        assert "s3cret" not in str(refused.value)


async def test_dependencies_come_from_their_own_repository(tmp_path: Path) -> None:
    with (
        chartrepos.serving(tmp_path / "libs") as libs,
        chartrepos.serving(tmp_path / "apps") as apps,
    ):
        for version in ("1.0.0", "1.2.0", "2.0.0"):
            libs.add(chartrepos.package(tmp_path, "common", version, destination=tmp_path / "l"))
        apps.add(
            chartrepos.package(
                tmp_path,
                "web",
                "3.0.0",
                destination=tmp_path / "a",
                dependencies=[{"name": "common", "version": "^1", "repository": libs.url}],
            )
        )
        seen: list[str] = []
        source = make_charts(tmp_path)
        revision = await source.resolve(charts.ChartSpec(apps.url, chart="web"), check=seen.append)
        assert [(d.chart, d.version) for d in revision.dependencies] == [("common", "1.2.0")]
        assert seen == [apps.url, libs.url]
        tree = source.tree(revision)
        assert tree.kind("charts/common-1.2.0.tgz") == "file"
        assert revision.pin.count("+sha256:") == 1


async def test_credentials_never_follow_an_archive_to_another_host(tmp_path: Path) -> None:
    with (
        chartrepos.serving(tmp_path / "private", username="ci", password="s3cret") as private,
        chartrepos.serving(tmp_path / "elsewhere") as elsewhere,
    ):
        archive = chartrepos.package(tmp_path, "app", "1.0.0", destination=tmp_path / "d")
        elsewhere.add(archive)
        private.add_unchecked(
            "app", "1.0.0", archive.read_bytes(), url=f"{elsewhere.url}/{archive.name}", store=False
        )
        (tmp_path / "password").write_text("s3cret\n")
        good = charts.Access(
            username="ci", password=credentials.SecretRef(file=tmp_path / "password")
        )
        source = charts.Charts(tmp_path / "cache", access=lambda _url: good)
        revision = await source.resolve(charts.ChartSpec(private.url, chart="app"))
        assert revision.version == "1.0.0"
        assert [path for path, _ in elsewhere.requests] == [f"/{archive.name}"]
        assert elsewhere.authorizations == [""]
        assert all(a.startswith("Basic ") for a in private.authorizations)


async def test_a_dependency_repository_refused_by_the_check_is_never_contacted(
    tmp_path: Path,
) -> None:
    with (
        chartrepos.serving(tmp_path / "libs") as libs,
        chartrepos.serving(tmp_path / "apps") as apps,
    ):
        libs.add(chartrepos.package(tmp_path, "common", "1.0.0", destination=tmp_path / "l"))
        apps.add(
            chartrepos.package(
                tmp_path,
                "web",
                "3.0.0",
                destination=tmp_path / "a",
                dependencies=[{"name": "common", "version": "^1", "repository": libs.url}],
            )
        )

        def check(url: str) -> None:
            if url == libs.url:
                raise errors.PolicyViolation(f"repository {url} is not allowed")

        with pytest.raises(errors.PolicyViolation, match="not allowed"):
            await make_charts(tmp_path).resolve(
                charts.ChartSpec(apps.url, chart="web"), check=check
            )
        assert libs.requests == []


async def test_bearer_token_and_ca_bundle_by_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = chartrepos.self_signed(tmp_path / "tls")
    with chartrepos.serving(tmp_path / "tls-repo", token="t0ken-value", tls=(cert, key)) as repo:
        repo.add(chartrepos.package(tmp_path, "app", "2.0.0", destination=tmp_path / "d"))
        monkeypatch.setenv("CHARTS_TOKEN", "t0ken-value")
        trusted = charts.Access(token=credentials.SecretRef(env="CHARTS_TOKEN"), ca_file=cert)
        source = charts.Charts(tmp_path / "cache", access=lambda _url: trusted)
        assert (await source.resolve(charts.ChartSpec(repo.url, chart="app"))).version == "2.0.0"
        assert set(repo.authorizations) == {"Bearer t0ken-value"}
        # Without the CA bundle the certificate is not trusted.
        untrusted = charts.Charts(
            tmp_path / "cache2",
            access=lambda _url: charts.Access(token=credentials.SecretRef(env="CHARTS_TOKEN")),
        )
        with pytest.raises(errors.SourceUnavailable, match=r"chart app from https://127\.0\.0\.1"):
            await untrusted.resolve(charts.ChartSpec(repo.url, chart="app"))
