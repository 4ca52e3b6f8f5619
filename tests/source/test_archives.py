"""Chart archives unpacked in memory: what is refused, and the tree they become."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from gitward import errors
from gitward.source import archives


def archive(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as out:
        for info, data in entries:
            out.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


CHART = file("web/Chart.yaml", b"apiVersion: v2\nname: web\nversion: 1.0.0\n")


def unpack(data: bytes, **limits: int) -> archives.ArchiveTree:
    return archives.unpack(
        data, where="chart web 1.0.0", limits=archives.Limits(**limits), revision="sha256:x"
    )


def test_the_chart_is_at_the_root_of_the_tree(tmp_path: Path) -> None:
    tree = unpack(archive([CHART, file("web/templates/cm.yaml", b"kind: ConfigMap\n")]))
    assert tree.kind("Chart.yaml") == "file" and tree.kind("templates") == "dir"
    assert [e.name for e in tree.list("")] == ["Chart.yaml", "templates"]
    assert tree.read("templates/cm.yaml") == b"kind: ConfigMap\n"
    tree.materialize(["templates"], tmp_path)
    assert (tmp_path / "templates" / "cm.yaml").read_bytes() == b"kind: ConfigMap\n"
    with pytest.raises(errors.SourcePathError):
        tree.read("../Chart.yaml")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (file("web/../../etc/x", b"x"), "climbs out"),
        (file("/etc/x", b"x"), "absolute"),
        (link("web/templates/passwd", "/etc/passwd"), "is a link"),
        (link("web/templates/hard", "web/Chart.yaml", tarfile.LNKTYPE), "is a link"),
        (link("web/fifo", "", tarfile.FIFOTYPE), "not a regular file"),
        (file("other/Chart.yaml", b"x"), "one top directory"),
    ],
)
def test_refused_entries_name_the_chart_and_the_entry(
    entry: tuple[tarfile.TarInfo, bytes], message: str
) -> None:
    with pytest.raises(errors.SourceRejected, match=rf"chart web 1.0.0: .*{message}"):
        unpack(archive([CHART, entry]))


def test_a_gzip_bomb_stops_at_the_unpacked_limit() -> None:
    bomb = archive([CHART, file("web/templates/zeros.yaml", bytes(50 * 1024 * 1024))])
    assert len(bomb) < 100 * 1024
    with pytest.raises(errors.SourceRejected, match="unpacks to more than"):
        unpack(bomb, max_unpacked_bytes=1024 * 1024, max_entries=10)


def test_too_many_entries_and_no_chart_are_refused() -> None:
    many = [CHART, *(file(f"web/t/{i}.yaml", b"a: 1\n") for i in range(20))]
    with pytest.raises(errors.SourceRejected, match="more than 10 entries"):
        unpack(archive(many), max_entries=10)
    with pytest.raises(errors.SourceRejected, match=r"no Chart\.yaml"):
        unpack(archive([file("web/values.yaml", b"a: 1\n")]))
    with pytest.raises(errors.SourceRejected, match="not a readable chart archive"):
        unpack(b"\x1f\x8b not really gzip")
