"""Inputs through fsspec URLs, so a cluster reads WARCs straight from object storage.

`s3://bucket/crawl/*.warc.gz`, `gs://...`, `az://...`, `https://...` go through fsspec
(install the matching backend: s3fs, gcsfs, adlfs); `file://` URLs become plain local
paths, so a run over `file:///data/x.warc.gz` is byte-identical to one over `/data/x.warc.gz`.
Local paths never touch fsspec: the single-machine path stays exactly as it was.

Outputs are written with plain file I/O (atomic renames, memory-mapped shards), so an
output directory must be a local path or a `file://` URL: on a cluster, a filesystem
every node mounts (NFS, EFS, Filestore, Lustre; bucket FUSE mounts lack atomic rename).
"""

from __future__ import annotations

import hashlib
import os
from typing import IO
from urllib.parse import unquote, urlsplit

from provenance.errors import InputError
from provenance.outdir import sha256_file

_GLOB_CHARS = "*?["
_CHUNK = 1 << 20  # 1 MiB reads for hashing remote objects


def is_url(path: str | os.PathLike[str]) -> bool:
    """True for a remote fsspec URL (`s3://`, `gs://`, `memory://`...); False for local paths and `file://`."""
    text = str(path)
    return "://" in text and not text.startswith("file://")


def to_local(path: str | os.PathLike[str]) -> str:
    """`file:///a/b` -> `/a/b` (percent-decoded); anything else unchanged."""
    text = str(path)
    if text.startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise InputError(f"{text}: file:// URLs must name a local path (file:///path)")
        return unquote(parts.path)
    return text


def local_dir(path: str | os.PathLike[str]) -> str:
    """An output directory as a local path; a remote URL is a one-line error (outputs need a filesystem)."""
    text = str(path)
    if is_url(text):
        raise InputError(
            f"{text}: outputs must be on a filesystem (a local path, file://, or a mount every node "
            "shares, such as NFS/EFS); inputs may be object-store URLs"
        )
    return to_local(text)


def _fs(url: str):  # noqa: ANN202 (fsspec's AbstractFileSystem)
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def expand_url(url: str, keep: object = None) -> list[str]:
    """A remote file, directory (recursive) or glob -> sorted full URLs of files.

    `keep(name) -> bool` filters directory listings (web-archive names); globs and
    single files are taken as given, like local inputs. Empty list when nothing matches.
    """
    fs, path = _fs(url)
    if any(ch in path for ch in _GLOB_CHARS):
        found = [p for p in fs.glob(path) if fs.isfile(p)]
    elif fs.isdir(path):
        found = [p for p in fs.find(path) if keep is None or keep(p)]
    elif fs.isfile(path):
        found = [path]
    else:
        found = []
    return sorted(fs.unstrip_protocol(p) for p in found)


def open_input(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a local path (builtin `open`) or a URL (fsspec) for binary reading."""
    text = to_local(path)
    if not is_url(text):
        return open(text, "rb")
    fs, p = _fs(text)
    return fs.open(p, "rb")


def size_of(path: str | os.PathLike[str]) -> int:
    text = to_local(path)
    if not is_url(text):
        return os.path.getsize(text)
    fs, p = _fs(text)
    return int(fs.size(p))


def sha256_of(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes: `provenance.outdir.sha256_file` locally, a streamed read for URLs."""
    text = to_local(path)
    if not is_url(text):
        return sha256_file(text)
    h = hashlib.sha256()
    with open_input(text) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
