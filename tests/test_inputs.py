"""Tests for pathsleuth.inputs: decompression, archives, stdin, caps and errors.

Every compressed file and archive is built here with the standard library (gzip, bz2,
lzma, tarfile, zipfile) and python-zstandard, then read back through the module.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import sys
import tarfile
import threading
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pathsleuth import inputs
from pathsleuth.errors import BadInput
from pathsleuth.inputs import (
    Limits,
    NamedStream,
    is_text,
    iter_members,
    open_stream,
    sanitise_member_name,
    sniff_archive,
    sniff_compression,
)

# --------------------------------------------------------------------------- builders


def zstd_with_size(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def zstd_streamed(data: bytes) -> bytes:
    """A zstd frame written in streaming mode: no content size in the header."""
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(write_checksum=True).stream_writer(buf, closefd=False) as w:
        for i in range(0, len(data), 7000):
            w.write(data[i : i + 7000])
    frame = buf.getvalue()
    assert not data or zstandard.frame_content_size(frame) == -1
    return frame


def gzip_multi(data: bytes) -> bytes:
    """Three gzip members back to back, as ``cat a.gz b.gz c.gz`` makes."""
    third = len(data) // 3
    parts = (data[:third], data[third : 2 * third], data[2 * third :])
    return b"".join(gzip.compress(p) for p in parts)


def lzma_alone(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "gzip-multi": gzip_multi,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lzma_alone,
    "zstd": zstd_with_size,
    "zstd-stream": zstd_streamed,
}
CODEC_NAME = {
    "none": None,
    "gzip": "gzip",
    "gzip-multi": "gzip",
    "bzip2": "bzip2",
    "xz": "xz",
    "lzma": "lzma",
    "zstd": "zstd",
    "zstd-stream": "zstd",
}


def payload(n: int, seed: int = 0) -> bytes:
    """Half random, half repetitive: exercises both stored and matched paths."""
    rnd = hashlib.shake_256(seed.to_bytes(4, "little")).digest(n // 2)
    return rnd + (b"pathsleuth " * (n // 22 + 1))[: n - len(rnd)]


def make_tar(
    members: list[tuple[str, bytes]], extra: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tf)
    return buf.getvalue()


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members:
            zf.writestr(
                zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method
            )
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def read_stream(path: str, limits: Limits = inputs.DEFAULT_LIMITS) -> tuple[bytes, tuple[str, ...]]:
    with open_stream(path, limits=limits) as s:
        return s.read(), s.compression


def read_members(
    path: str, accept: Callable[[bytes], bool] | None = None, limits: Limits = inputs.DEFAULT_LIMITS
) -> tuple[list[tuple[str, bytes]], list[inputs.Skipped]]:
    out = []
    with iter_members(path, limits=limits, accept=accept) as members:
        for s in members:
            out.append((s.name, s.read()))
        return out, members.skipped


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("comp", sorted(COMPRESSORS))
def test_open_stream_round_trip(tmp_path: Path, comp: str) -> None:
    data = payload(300_000)
    path = write(tmp_path, "blob", COMPRESSORS[comp](data))
    out, chain = read_stream(path)
    assert out == data
    assert chain == (() if CODEC_NAME[comp] is None else (CODEC_NAME[comp],))


@pytest.mark.parametrize("comp", sorted(COMPRESSORS))
def test_empty_payload_round_trip(tmp_path: Path, comp: str) -> None:
    path = write(tmp_path, "blob", COMPRESSORS[comp](b""))
    assert read_stream(path)[0] == b""


@pytest.mark.parametrize("outer", sorted(COMPRESSORS))
@pytest.mark.parametrize("member_comp", ["none", "gzip", "bzip2", "xz", "zstd-stream"])
@pytest.mark.parametrize("archive", ["tar", "zip-deflate", "zip-stored", "zip-bzip2", "zip-lzma"])
def test_archive_round_trip(tmp_path: Path, outer: str, member_comp: str, archive: str) -> None:
    a, b = payload(50_000, 1), payload(70_000, 2)
    members = [("dir/a.bin", COMPRESSORS[member_comp](a)), ("b.bin", COMPRESSORS[member_comp](b))]
    if archive == "tar":
        blob = make_tar(members)
    else:
        method = {
            "zip-deflate": zipfile.ZIP_DEFLATED,
            "zip-stored": zipfile.ZIP_STORED,
            "zip-bzip2": zipfile.ZIP_BZIP2,
            "zip-lzma": zipfile.ZIP_LZMA,
        }[archive]
        blob = make_zip(members, method)
    path = write(tmp_path, "bundle", COMPRESSORS[outer](blob))
    with iter_members(path) as it:
        got = [(s.name, s.member, s.compression, s.archive, s.read()) for s in it]
        assert it.archive == archive.split("-")[0]
        assert it.skipped == []
    assert [g[0] for g in got] == [f"{path}!dir/a.bin", f"{path}!b.bin"]
    assert [g[1] for g in got] == ["dir/a.bin", "b.bin"]
    assert [g[4] for g in got] == [a, b]
    expect_chain = tuple(c for c in (CODEC_NAME[outer], CODEC_NAME[member_comp]) if c)
    assert all(g[2] == expect_chain for g in got)
    assert all(g[3] == (archive.split("-")[0],) for g in got)


def test_plain_file_is_one_member(tmp_path: Path) -> None:
    path = write(tmp_path, "x.pcap.xz", lzma.compress(b"plain bytes"))
    got, skipped = read_members(path, accept=lambda head: False)
    # accept applies to archive members only: a plain file is always handed out
    assert got == [(path, b"plain bytes")]
    assert skipped == []


def test_nested_compression_chain(tmp_path: Path) -> None:
    data = payload(100_000)
    blob = zstd_streamed(bz2.compress(lzma.compress(gzip.compress(data))))
    path = write(tmp_path, "x", blob)
    out, chain = read_stream(path)
    assert out == data
    assert chain == ("zstd", "bzip2", "xz", "gzip")


def test_compression_depth_cap(tmp_path: Path) -> None:
    blob = b"x" * 100
    for _ in range(3):
        blob = gzip.compress(blob)
    path = write(tmp_path, "x", blob)
    assert read_stream(path, Limits(max_compression_depth=3))[0] == b"x" * 100
    with pytest.raises(BadInput, match="max_compression_depth") as err:
        read_stream(path, Limits(max_compression_depth=2))
    assert err.value.file == path


def test_multi_stream_and_padding(tmp_path: Path) -> None:
    a, b = payload(10_000, 3), payload(20_000, 4)
    cases = {
        "bz2": bz2.compress(a) + bz2.compress(b),
        "xz": lzma.compress(a) + b"\0" * 8 + lzma.compress(b),
        "zstd": zstd_with_size(a) + zstd_streamed(b),
        "gz-pad": gzip.compress(a) + gzip.compress(b) + b"\0" * 512,
    }
    for name, blob in cases.items():
        assert read_stream(write(tmp_path, name, blob))[0] == a + b, name


def test_zstd_skippable_frames(tmp_path: Path) -> None:
    data = payload(40_000)
    skippable = b"\x5a\x2a\x4d\x18" + (6).to_bytes(4, "little") + b"seek!!"
    blob = skippable + zstd_with_size(data[:20_000]) + skippable + zstd_streamed(data[20_000:])
    out, chain = read_stream(write(tmp_path, "s.zst", blob))
    assert out == data
    assert chain == ("zstd",)


def test_zstd_output_bounded_per_read(tmp_path: Path) -> None:
    """A zstd bomb (256 MiB of zeros in a few KiB) never materialises in memory."""
    cobj = zstandard.ZstdCompressor(level=19).compressobj()
    zeros = bytes(1 << 20)
    blob = b"".join(cobj.compress(zeros) for _ in range(256)) + cobj.flush()
    assert len(blob) < 64 * 1024
    path = write(tmp_path, "bomb.zst", blob)
    total = 0
    tracemalloc.start()
    try:
        with open_stream(path) as s:
            while chunk := s.read(65536):
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 << 20
    assert peak < 24 << 20, f"peak {peak} bytes"


# --------------------------------------------------------------------------- stream API


def test_peek_does_not_consume(tmp_path: Path) -> None:
    path = write(tmp_path, "p.gz", gzip.compress(b"0123456789" * 100))
    with open_stream(path) as s:
        assert s.peek(4) == b"0123"
        assert s.peek(12) == b"012345678901"
        assert s.tell() == 0
        assert s.read(3) == b"012"
        assert s.peek(3) == b"345"
        buf = bytearray(5)
        assert s.readinto(buf) == 5
        assert bytes(buf) == b"34567"
        assert s.tell() == 8
        assert len(s.read()) == 992
        assert s.read(10) == b""
        assert s.peek(4) == b""
    assert s.closed


def test_readline_and_iteration(tmp_path: Path) -> None:
    lines = [f"line {i} ".encode() * (i % 50) + b"\n" for i in range(20_000)]
    lines.append(b"last line without newline")
    path = write(tmp_path, "log.xz", lzma.compress(b"".join(lines)))
    with open_stream(path) as s:
        assert list(s) == lines
        assert s.tell() == sum(map(len, lines))
    with open_stream(path) as s:
        assert s.readline() == b"\n"
        assert s.readline(4) == b"line"
        assert s.readline() == b" 1 \n"
    cap = sum(map(len, lines[:100])) + 5
    with (
        pytest.raises(BadInput, match="max_member_bytes") as err,
        open_stream(path, limits=Limits(max_member_bytes=cap)) as s,
    ):
        for _ in s:
            pass
    assert err.value.offset == cap


def test_readinto_numpy_buffer(tmp_path: Path) -> None:
    import numpy as np

    path = write(tmp_path, "n.gz", gzip.compress(bytes(range(256)) * 4))
    arr = np.zeros(256, dtype=np.uint32)
    with open_stream(path) as s:
        assert s.readinto(arr) == 1024
    assert arr.tobytes() == bytes(range(256)) * 4


def test_buffered_reader_wraps_stream(tmp_path: Path) -> None:
    path = write(tmp_path, "p.bz2", bz2.compress(b"line one\nline two\n"))
    with open_stream(path) as s:
        assert list(io.BufferedReader(s)) == [b"line one\n", b"line two\n"]


def test_member_stream_invalid_after_advance(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tar", make_tar([("a", b"A" * 1000), ("b", b"B" * 1000)]))
    with iter_members(path) as it:
        first = next(it)
        assert first.read(10) == b"A" * 10
        second = next(it)
        with pytest.raises(ValueError, match="closed"):
            first.read(10)
        # the unread rest of the first member was skipped, not mixed into the second
        assert second.read() == b"B" * 1000


def test_partial_read_then_next_compressed_member(tmp_path: Path) -> None:
    members = [(f"m{i}.gz", gzip.compress(payload(30_000, i))) for i in range(4)]
    path = write(tmp_path, "t.tar.xz", lzma.compress(make_tar(members)))
    with iter_members(path) as it:
        heads = [s.read(100) for s in it]
    assert heads == [payload(30_000, i)[:100] for i in range(4)]


# --------------------------------------------------------------------------- stdin


PipeStdin = Callable[[Iterator[bytes]], threading.Thread]


@pytest.fixture
def pipe_stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipeStdin]:
    """Replace sys.stdin by the read end of a real (non-seekable) pipe fed by a thread."""
    readers: list[io.BufferedReader] = []
    threads: list[threading.Thread] = []

    def start(chunks: Iterator[bytes]) -> threading.Thread:
        rfd, wfd = os.pipe()
        reader = open(rfd, "rb")  # noqa: SIM115 - closed at teardown
        readers.append(reader)

        class FakeStdin:
            buffer = reader

        monkeypatch.setattr(sys, "stdin", FakeStdin())

        def feed() -> None:
            try:
                with open(wfd, "wb", buffering=0) as w:
                    for chunk in chunks:
                        w.write(chunk)
            except BrokenPipeError:
                pass  # the reader stopped early (an expected error in the test)

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        threads.append(t)
        return t

    yield start
    for reader in readers:
        reader.close()
    for t in threads:
        t.join(10)


def test_stdin_tar_xz_through_pipe(pipe_stdin: PipeStdin) -> None:
    members = [("x/one.bin", payload(200_000, 5)), ("two.bin", payload(300_000, 6))]
    blob = lzma.compress(make_tar(members))
    t = pipe_stdin(iter([blob[i : i + 4096] for i in range(0, len(blob), 4096)]))
    got, _ = read_members("-")
    t.join(5)
    assert got == [("<stdin>!x/one.bin", members[0][1]), ("<stdin>!two.bin", members[1][1])]


def test_stdin_zip_is_spooled(pipe_stdin: PipeStdin) -> None:
    members = [("a.bin", payload(100_000, 7)), ("b.bin", payload(10, 8))]
    t = pipe_stdin(iter([make_zip(members)]))
    got, _ = read_members("-")
    t.join(5)
    assert got == [("<stdin>!a.bin", members[0][1]), ("<stdin>!b.bin", members[1][1])]


def test_stdin_zip_spool_cap(pipe_stdin: PipeStdin) -> None:
    t = pipe_stdin(iter([make_zip([("a.bin", payload(100_000))], zipfile.ZIP_STORED)]))
    with pytest.raises(BadInput, match="max_spool_bytes") as err:
        read_members("-", limits=Limits(max_spool_bytes=50_000))
    t.join(5)
    assert err.value.file == "<stdin>"


def test_stdin_streams_before_eof(pipe_stdin: PipeStdin) -> None:
    """The first bytes come out while the writer still holds the pipe open."""
    first, rest = payload(100_000, 9), payload(100_000, 10)
    comp = zlib.compressobj(wbits=31)
    part1 = comp.compress(first) + comp.flush(zlib.Z_SYNC_FLUSH)
    part2 = comp.compress(rest) + comp.flush()
    released = threading.Event()

    def chunks() -> Iterator[bytes]:
        yield part1
        assert released.wait(10), "reader did not get the first part before EOF"
        yield part2

    t = pipe_stdin(chunks())
    with open_stream("-") as s:
        got = b""
        while len(got) < len(first):
            chunk = s.read(len(first) - len(got))
            assert chunk, "stream ended early"
            got += chunk
        assert got == first
        released.set()
        assert s.read() == rest
    t.join(5)


def test_stdin_subprocess_pipe(tmp_path: Path) -> None:
    """End to end through a real process's stdin: tar.gz of a .zst member."""
    data = payload(500_000, 11)
    blob = gzip.compress(make_tar([("deep/m.bin.zst", zstd_streamed(data))]))
    code = (
        "import hashlib\n"
        "from pathsleuth.inputs import iter_members\n"
        "with iter_members('-') as it:\n"
        "    for s in it:\n"
        "        print(s.name, s.compression, hashlib.sha256(s.read()).hexdigest())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, timeout=60, check=True
    )
    line = proc.stdout.decode().strip()
    assert line == f"<stdin>!deep/m.bin.zst ('gzip', 'zstd') {hashlib.sha256(data).hexdigest()}"


def test_stdin_redirected_from_zip_file(tmp_path: Path) -> None:
    """``pathsleuth decode - < bundle.zip``: stdin is a seekable file, used in place."""
    zpath = tmp_path / "bundle.zip"
    zpath.write_bytes(make_zip([("a.bin", b"first"), ("b/c.bin", gzip.compress(b"second"))]))
    code = (
        "from pathsleuth.inputs import iter_members\n"
        "with iter_members('-') as it:\n"
        "    for s in it:\n"
        "        print(s.name, s.read().decode())\n"
    )
    with zpath.open("rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-c", code], stdin=stdin, capture_output=True, timeout=60, check=True
        )
    assert proc.stdout.decode().splitlines() == ["<stdin>!a.bin first", "<stdin>!b/c.bin second"]


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="max_members"):
        Limits(max_members=-1)
    with pytest.raises(ValueError, match="max_ratio"):
        Limits(max_ratio=0)


def test_stdin_subprocess_error_is_one_line() -> None:
    code = (
        "from pathsleuth.inputs import open_stream\n"
        "from pathsleuth.errors import BadInput\n"
        "try:\n"
        "    with open_stream('-') as s: s.read()\n"
        "except BadInput as e: print(e)\n"
    )
    blob = gzip.compress(payload(100_000))[:-100]
    proc = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, timeout=60, check=True
    )
    assert proc.stdout.decode().startswith("<stdin> (byte offset ")
    assert "gzip data truncated" in proc.stdout.decode()
    assert proc.stderr == b""


# --------------------------------------------------------------------------- caps


def test_member_cap_exact_and_exceeded(tmp_path: Path) -> None:
    path = write(tmp_path, "x.gz", gzip.compress(b"a" * 1000))
    assert read_stream(path, Limits(max_member_bytes=1000))[0] == b"a" * 1000
    with pytest.raises(BadInput, match="max_member_bytes") as err:
        read_stream(path, Limits(max_member_bytes=999))
    assert err.value.offset == 999
    assert err.value.file == path


def test_member_cap_names_member(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t.tgz", gzip.compress(make_tar([("ok", b"1" * 10), ("big/one", b"2" * 5000)]))
    )
    with pytest.raises(BadInput, match="max_member_bytes") as err:
        read_members(path, limits=Limits(max_member_bytes=4096))
    assert err.value.file == f"{path}!big/one"
    assert err.value.offset == 4096


def test_ratio_cap(tmp_path: Path) -> None:
    path = write(tmp_path, "z.bz2", bz2.compress(bytes(4 << 20)))
    with pytest.raises(BadInput, match="max_ratio") as err:
        read_stream(path, Limits(max_ratio=100, ratio_min_bytes=1 << 20))
    assert err.value.offset is not None and err.value.offset >= 1 << 20
    # below the floor the ratio is not checked
    assert len(read_stream(path, Limits(max_ratio=100, ratio_min_bytes=8 << 20))[0]) == 4 << 20


def test_ratio_cap_on_zip_member(tmp_path: Path) -> None:
    path = write(tmp_path, "z.zip", make_zip([("zeros", bytes(4 << 20))], zipfile.ZIP_BZIP2))
    with pytest.raises(BadInput, match="max_ratio") as err:
        read_members(path, limits=Limits(max_ratio=100, ratio_min_bytes=1 << 20))
    assert err.value.file == f"{path}!zeros"


def test_total_cap(tmp_path: Path) -> None:
    # compressed members: the tar stream (10 KiB record) stays under the cap, the sum of
    # the decompressed members does not
    members = [(f"m{i}.gz", gzip.compress(bytes(5000))) for i in range(3)]
    path = write(tmp_path, "t.tar", make_tar(members))
    assert len(read_members(path, limits=Limits(max_total_bytes=15_000))[0]) == 3
    with pytest.raises(BadInput, match="max_total_bytes") as err:
        read_members(path, limits=Limits(max_total_bytes=12_000))
    assert err.value.file == f"{path}!m2.gz"
    assert err.value.offset == 2000  # 12000 - 2 * 5000


def test_total_cap_on_archive_stream(tmp_path: Path) -> None:
    """Skipped members still cost decompression: the archive stream itself is capped."""
    path = write(
        tmp_path, "t.tar.gz", gzip.compress(make_tar([(f"m{i}", bytes(100_000)) for i in range(5)]))
    )
    with pytest.raises(BadInput, match="max_total_bytes") as err:
        read_members(path, accept=lambda head: False, limits=Limits(max_total_bytes=300_000))
    assert err.value.file == path


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_member_count_cap(tmp_path: Path, kind: str) -> None:
    members = [(f"m{i}", b"x") for i in range(6)]
    blob = make_tar(members) if kind == "tar" else make_zip(members)
    path = write(tmp_path, f"many.{kind}", blob)
    assert len(read_members(path, limits=Limits(max_members=6))[0]) == 6
    with pytest.raises(BadInput, match="max_members") as err:
        read_members(path, limits=Limits(max_members=5))
    assert err.value.file == path


def test_huge_pax_header_refused(tmp_path: Path) -> None:
    """A PAX header claiming gigabytes must not be read into memory."""
    blob = bytearray(make_tar([("a" * 150, b"data")]))
    # a long name makes the first block a PAX header ('x'); make it claim 4 GiB
    assert blob[156:157] == b"x"
    blob[124:136] = b"%011o\0" % (4 << 30)
    chk = sum(blob[:148]) + 8 * 32 + sum(blob[156:512])
    blob[148:156] = b"%06o\0 " % chk
    path = write(tmp_path, "pax.tar", bytes(blob))
    with pytest.raises(BadInput, match="extended header"):
        read_members(path)


# --------------------------------------------------------------------------- safety


def test_traversal_and_absolute_names(tmp_path: Path) -> None:
    members = [("../../etc/passwd", b"p"), ("/abs/x.bin", b"a"), ("./a/./b\n\x1b[2J", b"c")]
    for kind, blob in (("tar", make_tar(members)), ("zip", make_zip(members))):
        path = write(tmp_path, f"evil.{kind}", blob)
        got, skipped = read_members(path)
        assert skipped == []
        assert got == [
            (f"{path}!__/__/etc/passwd", b"p"),
            (f"{path}!abs/x.bin", b"a"),
            (f"{path}!a/b\\x0a\\x1b[2J", b"c"),
        ], kind
    assert list(tmp_path.iterdir()) == [tmp_path / "evil.tar", tmp_path / "evil.zip"]


def test_sanitise_member_name() -> None:
    assert sanitise_member_name("..\\..\\win\\x") == "__/__/win/x"
    assert sanitise_member_name("/") == "_"
    assert sanitise_member_name("a//b/") == "a/b"


def test_special_tar_members_skipped(tmp_path: Path) -> None:
    def extra(tf: tarfile.TarFile) -> None:
        for name, kind, link in (
            ("sym", tarfile.SYMTYPE, "/etc/shadow"),
            ("hard", tarfile.LNKTYPE, "a"),
            ("dir", tarfile.DIRTYPE, ""),
            ("dev", tarfile.CHRTYPE, ""),
            ("fifo", tarfile.FIFOTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            tf.addfile(info)

    path = write(tmp_path, "s.tar", make_tar([("a", b"regular")], extra))
    got, skipped = read_members(path)
    assert got == [(f"{path}!a", b"regular")]
    assert [(s.name.split("!")[1], s.reason) for s in skipped] == [
        ("sym", "symbolic link to etc/shadow"),
        ("hard", "hard link to a"),
        ("dir", "directory"),
        ("dev", "device node"),
        ("fifo", "FIFO"),
    ]


def _patch_zip(blob: bytes, *, flag: int = 0, method: int | None = None) -> bytes:
    """Set general-purpose flag bits / the method in every local and central header."""
    out = bytearray(blob)
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = out.find(sig)
        while at >= 0:
            out[at + flag_at] |= flag
            if method is not None:
                out[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
            at = out.find(sig, at + 4)
    return bytes(out)


def test_zip_special_members_skipped(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok.bin", b"fine")
        link = zipfile.ZipInfo("link")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(zipfile.ZipInfo("dir/"), b"")
    path = write(tmp_path, "s.zip", buf.getvalue())
    got, skipped = read_members(path)
    assert got == [(f"{path}!ok.bin", b"fine")]
    assert [(s.name, s.reason) for s in skipped] == [
        (f"{path}!link", "symbolic link"),
        (f"{path}!dir", "directory"),
    ]


def test_zip_member_with_an_empty_name_is_read(tmp_path: Path) -> None:
    """A member named "" (fuzzer-found: ZipInfo.is_dir() raised IndexError on it) is read
    like any file, under the sanitised name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"fine")
        zf.writestr(zipfile.ZipInfo("dir/"), b"")
    path = write(tmp_path, "e.zip", buf.getvalue())
    got, skipped = read_members(path)
    assert got == [(f"{path}!_", b"fine")]
    assert [(s.name, s.reason) for s in skipped] == [(f"{path}!dir", "directory")]


def test_encrypted_and_unsupported_zip_members_skipped(tmp_path: Path) -> None:
    enc = write(tmp_path, "enc.zip", _patch_zip(make_zip([("secret", b"x" * 100)]), flag=1))
    got, skipped = read_members(enc)
    assert got == []
    assert skipped == [inputs.Skipped(f"{enc}!secret", "encrypted (password protected)")]
    odd = write(tmp_path, "odd.zip", _patch_zip(make_zip([("m", b"x" * 100)]), method=9))
    got, skipped = read_members(odd)
    assert got == []
    assert skipped[0].reason.startswith("unsupported zip feature")


def test_accept_filter_records_reason(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.tar",
        make_tar([("a.txt", b"hello\n"), ("b.gz", gzip.compress(b"WANT")), ("e", b"")]),
    )
    got, skipped = read_members(path, accept=lambda head: head.startswith(b"WANT"))
    assert got == [(f"{path}!b.gz", b"WANT")]
    assert [(s.name, s.reason) for s in skipped] == [
        (f"{path}!a.txt", "not a wanted file (content starts with 68656c6c6f0a)"),
        (f"{path}!e", "not a wanted file (content is empty)"),
    ]


def test_nested_archives(tmp_path: Path) -> None:
    inner_zip = make_zip([("in/z.bin", b"zipped")])
    inner_tar = gzip.compress(make_tar([("t.bin", b"tarred")]))
    path = write(
        tmp_path,
        "outer.tar",
        make_tar([("a.zip", inner_zip), ("b.tgz", inner_tar), ("c", b"plain")]),
    )
    got, _ = read_members(path)
    assert got == [
        (f"{path}!a.zip!in/z.bin", b"zipped"),
        (f"{path}!b.tgz!t.bin", b"tarred"),
        (f"{path}!c", b"plain"),
    ]
    with iter_members(path) as it:
        first = next(it)
        assert first.member == "a.zip!in/z.bin"
        assert first.archive == ("tar", "zip")
    got, skipped = read_members(path, limits=Limits(max_archive_depth=1))
    assert got == [(f"{path}!c", b"plain")]
    assert [s.reason for s in skipped] == [
        "zip archive nested deeper than Limits.max_archive_depth (1)",
        "tar archive nested deeper than Limits.max_archive_depth (1)",
    ]


# --------------------------------------------------------------------------- errors


def test_missing_file() -> None:
    with pytest.raises(BadInput, match="no such file") as err:
        read_stream("/nonexistent/trace.pcap")
    assert err.value.file == "/nonexistent/trace.pcap"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is a directory"):
        read_stream(str(tmp_path))


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # we run as root (permission bits do not stop root), so make open() refuse
    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs, "open", deny, raising=False)
    with pytest.raises(BadInput, match="permission denied"):
        list(iter_members(write(tmp_path, "x", b"")))


@pytest.mark.parametrize("comp", ["gzip", "bzip2", "xz", "lzma", "zstd", "zstd-stream"])
def test_truncated_compressed_stream(tmp_path: Path, comp: str) -> None:
    data = payload(200_000)
    blob = COMPRESSORS[comp](data)
    path = write(tmp_path, "t", blob[: len(blob) * 2 // 3])
    got = bytearray()
    with pytest.raises(BadInput, match="truncated") as err, open_stream(path) as s:
        while chunk := s.read(4096):
            got += chunk
    assert err.value.file == path
    assert err.value.offset is not None
    # the offset is where decompressed data stopped, and everything before it was right
    assert err.value.offset >= len(got)
    assert bytes(got) == data[: len(got)]


@pytest.mark.parametrize("comp", ["gzip", "bzip2", "xz", "zstd-stream"])
def test_corrupt_compressed_stream(tmp_path: Path, comp: str) -> None:
    # (zstd-stream carries a content checksum: plain zstd frames cannot detect damage
    # inside a raw block)
    data = payload(200_000)
    blob = bytearray(COMPRESSORS[comp](data))
    for i in range(len(blob) // 2, len(blob) // 2 + 64):
        blob[i] ^= 0x55
    path = write(tmp_path, "c", bytes(blob))
    with pytest.raises(BadInput) as err:
        read_stream(path)
    assert err.value.file == path
    assert err.value.offset is not None
    assert "\n" not in str(err.value)


def test_trailing_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, "g.gz", gzip.compress(b"ok") + b"GARBAGE")
    with pytest.raises(BadInput, match="unexpected data after the end of the gzip stream") as err:
        read_stream(path)
    assert err.value.offset == 2


def test_truncated_tar_member(tmp_path: Path) -> None:
    blob = make_tar([("a", b"A" * 2000), ("b", b"B" * 5000)])
    cut = blob.find(b"B" * 100) + 1000
    path = write(tmp_path, "t.tar.gz", gzip.compress(blob[:cut]))
    with pytest.raises(BadInput, match="unexpected end of data") as err:
        read_members(path)
    assert err.value.file == f"{path}!b"
    assert err.value.offset is not None


def test_truncated_tar_header(tmp_path: Path) -> None:
    blob = make_tar([("a", b"A" * 2000), ("b", b"B" * 5000)])
    cut = blob.find(b"A" * 100) + 2048 + 100  # inside the next header block
    path = write(tmp_path, "t.tar", blob[:cut])
    with pytest.raises(BadInput) as err:
        read_members(path)
    assert err.value.file == path
    assert err.value.offset is not None


def test_corrupt_tar_header(tmp_path: Path) -> None:
    blob = bytearray(make_tar([("a", b"A" * 600), ("b", b"B" * 10)]))
    second = blob.find(b"b\0", 1024)  # name field of a later header
    blob[second + 100 : second + 108] = b"garbage!"  # mode field: breaks the checksum
    path = write(tmp_path, "t.tar", bytes(blob))
    with pytest.raises(BadInput, match="tar header") as err:
        read_members(path)
    assert err.value.file == path


def test_corrupt_zip(tmp_path: Path) -> None:
    blob = make_zip([("m", payload(10_000))])
    directory = blob.find(b"PK\x01\x02")
    path = write(tmp_path, "bad.zip", blob[:directory] + b"\xff" * (len(blob) - directory))
    with pytest.raises(BadInput, match="zip") as err:
        read_members(path)
    assert err.value.file == path


def test_zip_bad_crc(tmp_path: Path) -> None:
    blob = bytearray(make_zip([("m", b"hello world" * 100)], zipfile.ZIP_STORED))
    at = blob.find(b"hello world")
    blob[at] = ord("J")
    path = write(tmp_path, "crc.zip", bytes(blob))
    with pytest.raises(BadInput, match="CRC") as err:
        read_members(path)
    assert err.value.file == f"{path}!m"


def test_no_foreign_exception_on_garbage_archives(tmp_path: Path) -> None:
    """Archive-looking garbage of every kind ends in BadInput or reads cleanly."""
    seeds = [make_tar([("a", payload(3000))]), make_zip([("a", payload(3000))])]
    for s_i, seed in enumerate(seeds):
        for comp in ("none", "gzip", "zstd"):
            blob = COMPRESSORS[comp](seed)
            for k in range(0, len(blob), max(1, len(blob) // 40)):
                bad = bytearray(blob)
                bad[k] ^= 0xFF
                path = write(tmp_path, f"g{s_i}{comp}{k}", bytes(bad))
                with contextlib.suppress(BadInput):
                    read_members(path)


# --------------------------------------------------------------------------- sniffing


def test_sniffers() -> None:
    assert sniff_compression(gzip.compress(b"")) == "gzip"
    assert sniff_compression(bz2.compress(b"")) == "bzip2"
    assert sniff_compression(lzma.compress(b"")) == "xz"
    assert sniff_compression(lzma_alone(b"x")) == "lzma"
    assert sniff_compression(zstd_with_size(b"")) == "zstd"
    assert sniff_compression(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16)) is None
    assert sniff_compression(b"\x0a\x0d\x0d\x0a" + bytes(40)) is None
    assert sniff_compression(b"BZh9 not really bzip2") is None
    assert sniff_archive(make_tar([("a", b"")])[:512]) == "tar"
    assert sniff_archive(make_zip([("a", b"")])) == "zip"
    assert sniff_archive(bytes(512)) is None
    assert sniff_archive(b"\xd4\xc3\xb2\xa1" + bytes(508)) is None


def test_is_text() -> None:
    assert is_text(b"Jan  1 00:00:00 host postfix/smtp[1]: 4F2: to=<a@b>, status=sent\n")
    assert is_text("Zürich relay\n".encode())
    assert not is_text(b"")
    assert not is_text(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00")
    assert not is_text(b"text with a NUL\x00 byte")


# --------------------------------------------------------------------------- properties

_CHAIN_STEPS = sorted(c for c in COMPRESSORS if c != "none")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=5000)
    | st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=40), st.integers(1, 500)),
    chain=st.lists(st.sampled_from(_CHAIN_STEPS), max_size=4),
)
def test_property_any_chain_round_trips(tmp_path: Path, data: bytes, chain: list[str]) -> None:
    assume(sniff_compression(data) is None)
    blob = data
    for step in chain:
        blob = COMPRESSORS[step](blob)
    path = write(tmp_path, "prop", blob)
    out, got_chain = read_stream(path)
    assert out == data
    assert len(got_chain) == len(chain)


_NAMES = st.text(alphabet="abcxyz019._-", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    # an empty tar is 10 KiB of zeros, indistinguishable from a file of zeros
    members=st.lists(
        st.tuples(_NAMES, st.binary(max_size=3000)),
        min_size=1,
        max_size=6,
        unique_by=lambda m: m[0],
    ),
    archive=st.sampled_from(["tar", "zip"]),
    outer=st.sampled_from(sorted(COMPRESSORS)),
)
def test_property_archives_round_trip(
    tmp_path: Path, members: list[tuple[str, bytes]], archive: str, outer: str
) -> None:
    assume(all(sniff_compression(d) is None and sniff_archive(d[:512]) is None for _, d in members))
    blob = make_tar(members) if archive == "tar" else make_zip(members)
    path = write(tmp_path, "prop-archive", COMPRESSORS[outer](blob))
    got, skipped = read_members(path)
    assert got == [(f"{path}!{n}", d) for n, d in members]
    assert skipped == []


def test_named_stream_is_public_type(tmp_path: Path) -> None:
    path = write(tmp_path, "n", b"abc")
    with open_stream(path) as s:
        assert isinstance(s, NamedStream)
        assert s.readable() and not s.seekable()
        assert (s.name, s.path, s.member, s.archive) == (path, path, None, ())
