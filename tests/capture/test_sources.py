"""Tests for pathsleuth.capture.sources: capture magics and archives searched for captures."""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from pathsleuth.capture.sources import (
    CAPTURE_MAGICS,
    MAX_LISTED_MEMBERS,
    capture_format,
    is_capture,
    open_captures,
)
from pathsleuth.errors import BadInput
from pathsleuth.inputs import Limits

PCAP_US_LE = bytes.fromhex("d4c3b2a1") + bytes.fromhex("02000400") + bytes(16)
PCAP_NS_BE = bytes.fromhex("a1b23c4d") + bytes.fromhex("00020004") + bytes(16)
PCAPNG = bytes.fromhex("0a0d0d0a") + (28).to_bytes(4, "little") + bytes.fromhex("4d3c2b1a")


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def collect(path: Path, limits: Limits | None = None) -> list[tuple[str, bytes]]:
    kwargs = {} if limits is None else {"limits": limits}
    with open_captures(str(path), **kwargs) as it:
        return [(s.name, s.read()) for s in it]


@pytest.mark.parametrize(
    ("magic", "fmt"),
    [
        ("a1b2c3d4", "pcap"),
        ("d4c3b2a1", "pcap"),
        ("a1b23c4d", "pcap-ns"),
        ("4d3cb2a1", "pcap-ns"),
        ("0a0d0d0a", "pcapng"),
    ],
)
def test_magics(magic: str, fmt: str) -> None:
    head = bytes.fromhex(magic) + b"rest of header"
    assert is_capture(head)
    assert capture_format(head) == fmt
    assert bytes.fromhex(magic) in CAPTURE_MAGICS


@given(st.binary(max_size=64))
def test_is_capture_only_for_the_five_magics(head: bytes) -> None:
    assert is_capture(head) == (head[:4] in CAPTURE_MAGICS)


def test_short_heads_are_not_captures() -> None:
    assert not is_capture(b"")
    assert not is_capture(b"\xd4\xc3\xb2")


def test_tar_gz_bundle_like_the_seed_case(tmp_path: Path) -> None:
    """PACKETTRACE.TAR.GZ: captures (one itself compressed) among notes and folders."""
    members = [
        ("trace/README.txt", b"captured on the GWIA host\n"),
        ("trace/gwia.pcap", PCAP_US_LE + b"frames"),
        ("trace/relay.pcapng.zst", zstandard.ZstdCompressor().compress(PCAPNG + b"blocks")),
        ("trace/old.pcap.gz", gzip.compress(PCAP_NS_BE + b"ns")),
    ]
    path = tmp_path / "PACKETTRACE.TAR.GZ"
    path.write_bytes(gzip.compress(tar_of(members)))
    with open_captures(str(path)) as it:
        got = [(s.name, s.member, s.compression, s.peek(4), s.read()) for s in it]
        skipped = it.skipped
    assert got == [
        (
            f"{path}!trace/gwia.pcap",
            "trace/gwia.pcap",
            ("gzip",),
            PCAP_US_LE[:4],
            PCAP_US_LE + b"frames",
        ),
        (
            f"{path}!trace/relay.pcapng.zst",
            "trace/relay.pcapng.zst",
            ("gzip", "zstd"),
            PCAPNG[:4],
            PCAPNG + b"blocks",
        ),
        (
            f"{path}!trace/old.pcap.gz",
            "trace/old.pcap.gz",
            ("gzip", "gzip"),
            PCAP_NS_BE[:4],
            PCAP_NS_BE + b"ns",
        ),
    ]
    assert [s.name for s in skipped] == [f"{path}!trace/README.txt"]


def test_zip_of_captures(tmp_path: Path) -> None:
    path = tmp_path / "caps.zip"
    path.write_bytes(
        zip_of([("a.pcap", PCAP_US_LE), ("notes.md", b"# notes"), ("b.pcapng", PCAPNG)])
    )
    assert collect(path) == [(f"{path}!a.pcap", PCAP_US_LE), (f"{path}!b.pcapng", PCAPNG)]


def test_archive_without_capture_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "logs.tar.xz"
    path.write_bytes(lzma.compress(tar_of([("mail.log", b"Jan 1 postfix\n"), ("empty", b"")])))
    with pytest.raises(BadInput) as err:
        collect(path)
    assert err.value.file == str(path)
    assert str(err.value).startswith(
        f"{path}: no pcap/pcapng capture in archive; members: mail.log ("
    )
    assert "empty (not a wanted file (content is empty))" in str(err.value)


def test_no_capture_message_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_of([(f"f{i}.txt", b"text") for i in range(MAX_LISTED_MEMBERS + 5)]))
    with pytest.raises(BadInput, match=r"and 5 more$"):
        collect(path)


def test_plain_non_capture_file_is_passed_through(tmp_path: Path) -> None:
    """The format reader, not this module, reports the exact bad magic."""
    path = tmp_path / "not-a-capture.pcap"
    path.write_bytes(b"<html>oops</html>")
    assert collect(path) == [(str(path), b"<html>oops</html>")]


def test_tar_recognised_before_capture_check(tmp_path: Path) -> None:
    # an uncompressed tar named like a capture is still opened as an archive
    path = tmp_path / "trace.pcap"
    path.write_bytes(tar_of([("inner.pcap", PCAP_US_LE)]))
    assert collect(path) == [(f"{path}!inner.pcap", PCAP_US_LE)]


def test_caps_apply(tmp_path: Path) -> None:
    path = tmp_path / "big.tar"
    path.write_bytes(tar_of([("x.pcap", PCAP_US_LE + bytes(10_000))]))
    with pytest.raises(BadInput, match="max_member_bytes") as err:
        collect(path, Limits(max_member_bytes=4096))
    assert err.value.file == f"{path}!x.pcap"
    assert err.value.offset == 4096


@pytest.mark.corpus
def test_corpus_files_pass_through_unchanged(captures_dir: Path) -> None:
    files = sorted(p for p in captures_dir.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert files, "corpus has no captures"
    for p in files:
        got = collect(p)
        assert got == [(str(p), p.read_bytes())], p
        assert is_capture(got[0][1][:4]), p


@pytest.mark.corpus
def test_corpus_as_compressed_archive(captures_dir: Path, tmp_path: Path) -> None:
    files = sorted(p for p in captures_dir.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    members = [(str(p.relative_to(captures_dir)), p.read_bytes()) for p in files]
    members.append(("MANIFEST.md", (captures_dir / "MANIFEST.md").read_bytes()))
    bundle = tmp_path / "corpus.tar.zst"
    bundle.write_bytes(zstandard.ZstdCompressor().compress(tar_of(members)))
    with open_captures(str(bundle)) as it:
        got = [(s.member, s.read()) for s in it]
        assert [s.name for s in it.skipped] == [f"{bundle}!MANIFEST.md"]
    assert got == members[:-1]
