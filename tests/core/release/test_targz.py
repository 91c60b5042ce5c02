from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from bosh_core.release.targz import FIXED_MTIME, TarGzWriter


def build(tmp_path: Path, *, compress: bool = True) -> bytes:
    text = tmp_path / "text.txt"
    text.write_bytes(b"".join(b"line %d\n" % i for i in range(300_000)))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    out = io.BytesIO()
    with TarGzWriter(out, compress=compress) as writer:
        writer.add_directory("./")
        writer.add_bytes("./job.MF", b"name: x\n")
        writer.add_directory("./d/")
        writer.add_file("./d/text.txt", text, mode=0o644)
        writer.add_file("./d/noise.bin", noise, mode=0o755)
        writer.add_symlink("./link", "d/text.txt")
    return out.getvalue()


def test_archive_is_a_valid_tgz_with_normalised_members(tmp_path: Path) -> None:
    data = build(tmp_path)
    assert gzip.decompress(data)  # checks CRC and length of the parallel deflate stream
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == [
            ".",
            "./job.MF",
            "./d",
            "./d/text.txt",
            "./d/noise.bin",
            "./link",
        ]
        for member in members:
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")
            assert member.mtime == FIXED_MTIME
        assert archive.getmember("./d/noise.bin").mode == 0o755
        assert archive.getmember("./link").linkname == "d/text.txt"
        extracted = archive.extractfile("./d/text.txt")
        assert extracted is not None
        assert extracted.read() == (tmp_path / "text.txt").read_bytes()
        noise = archive.extractfile("./d/noise.bin")
        assert noise is not None and noise.read() == (tmp_path / "noise.bin").read_bytes()


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "f").write_bytes(b"x" * 5_000_000)
    (second / "f").write_bytes(b"x" * 5_000_000)
    outputs = []
    for directory in (first, second):
        out = io.BytesIO()
        with TarGzWriter(out) as writer:
            writer.add_file("./f", directory / "f", mode=0o644)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]


def test_compressible_data_is_compressed_and_noise_is_stored(tmp_path: Path) -> None:
    data = build(tmp_path)
    raw_text = (tmp_path / "text.txt").stat().st_size
    noise = (tmp_path / "noise.bin").stat().st_size
    assert len(data) < noise + raw_text // 3


def test_close_returns_the_sha256_of_the_bytes_written(tmp_path: Path) -> None:
    import hashlib

    source = tmp_path / "f"
    source.write_bytes(b"abc" * 1000)
    out = io.BytesIO()
    writer = TarGzWriter(out)
    content = writer.add_file("./f", source, mode=0o644)
    digest = writer.close()
    assert str(digest) == "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()
    assert str(content) == "sha256:" + hashlib.sha256(b"abc" * 1000).hexdigest()


def test_uncompressed_archives_are_plain_tar(tmp_path: Path) -> None:
    data = build(tmp_path, compress=False)
    assert data[257:262] == b"ustar"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        assert "./d/text.txt" in archive.getnames()
