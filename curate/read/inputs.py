"""What a run reads: files, directories and globs (local or fsspec URLs) -> the sorted list of input files."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from curate.read import fsio
from curate.read.warc import is_warc_path
from provenance.errors import InputError
from provenance.outdir import OutDir, part_name, run_kind


@dataclass(frozen=True)
class InputFile:
    """One input file = one task of the per-file stage; `part` names its part files (input order, stable)."""

    index: int
    path: str
    sha256: str
    size: int

    @property
    def part(self) -> str:
        return part_name(self.index)


def input_files(paths: list[str]) -> list[InputFile]:
    """Hash and size every input (streamed for URLs), in the given order."""
    return [InputFile(i, p, fsio.sha256_of(p), fsio.size_of(p)) for i, p in enumerate(paths)]


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files, directories (recursive, web-archive names only) and globs -> sorted absolute paths or URLs."""
    found: set[str] = set()
    for item in inputs:
        found.update(_expand_one(item))
    if not found:
        raise InputError("no input files given")
    return sorted(found)


def _expand_one(item: str) -> list[str]:
    try:  # file:// URLs are local paths; s3://, gs://... are listed through fsspec
        item = fsio.to_local(item)
        if fsio.is_url(item):
            urls = fsio.expand_url(item, keep=is_warc_path)
            if not urls:
                raise InputError(f"{item}: no such object, or nothing matches")
            return urls
    except (OSError, ImportError, ValueError) as exc:
        raise InputError(f"{item}: {type(exc).__name__}: {exc}"[:300]) from None
    return _expand_local(item)


def _real(path: str | os.PathLike[str]) -> str:
    """The one spelling of a local input: its real path (symlinks resolved), however it was named (a
    path, a glob, a directory, a file:// URL), so `source_file` and the run_id do not depend on it."""
    return str(Path(path).resolve())


def _expand_local(item: str) -> list[str]:
    path = Path(item)
    if path.is_file():  # a file whose name holds glob characters ("[1].warc.gz") is that file
        return [_real(path)]
    if any(ch in item for ch in "*?["):
        matches = [m for m in glob.glob(item, recursive=True) if os.path.isfile(m)]
        if not matches:
            raise InputError(f"{item}: the pattern matches no file")
        return [_real(m) for m in matches]
    if path.is_dir():
        if OutDir(path).manifest.is_file():
            raise InputError(
                f"{item}: an assay {run_kind(path) or 'output'} directory, not web archives; corpora and "
                "synthetic sets are mixed at training time (assay train run --data NAME=DIR:WEIGHT), "
                "where the synthetic gates are checked"
            )
        files = [p for p in path.rglob("*") if p.is_file() and is_warc_path(p)]
        if not files:
            raise InputError(f"{item}: directory holds no WARC/ARC/WET files")
        return [_real(p) for p in files]
    raise InputError(f"{item}: no such file or directory")
