"""Where a quality classifier's training documents come from: `assay quality train --positive SRC`.

A SRC is an assay corpus (its `documents/` parts), a `.parquet` / `.jsonl` file with a text column
(`text` unless told), or a folder of `.txt` files (one document a file). Each is read in a fixed
order (parts and files sorted by name, rows in file order) and fingerprinted by sha256, so the card
of a model says exactly what it was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curate.text_sources import read_records
from provenance.errors import InputError
from provenance.outdir import DOCUMENTS, OutDir, sha256_file

TEXT_FILE_SUFFIX = ".txt"


@dataclass(frozen=True)
class Source:
    path: str
    kind: str  # corpus | parquet | jsonl | txt-folder
    sha256: str  # of the file; of its parts' or files' (name, sha256) list for a directory
    texts: tuple[str, ...]

    def facts(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "sha256": self.sha256, "documents": len(self.texts)}


def tree_sha256(root: Path, files: list[Path]) -> str:
    """sha256 over (relative path, file sha256) of each file, in the given order."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\0{sha256_file(f)}\n".encode())
    return h.hexdigest()


def _corpus(root: Path) -> Source:
    parts = OutDir(root).parts(DOCUMENTS)
    texts = [t for p in parts for t in pq.read_table(p, columns=["text"])["text"].to_pylist()
             if t and t.strip()]
    return Source(str(root), "corpus", tree_sha256(root, parts), tuple(texts))


def _text_folder(root: Path) -> Source:
    files = sorted(p for p in root.rglob(f"*{TEXT_FILE_SUFFIX}") if p.is_file())
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    return Source(str(root), "txt-folder", tree_sha256(root, files), tuple(t for t in texts if t.strip()))


def read_source(path: str | Path, text_field: str = "text") -> Source:
    """The documents of one SRC; an InputError (one line) when it is none of the accepted kinds or empty."""
    p = Path(path).expanduser().resolve()
    if p.is_dir() and OutDir(p).folder(DOCUMENTS).is_dir():
        src = _corpus(p)
    elif p.is_dir():
        src = _text_folder(p)
    elif p.is_file():
        records = read_records(p, (text_field,))
        src = Source(str(p), p.suffix.lower().lstrip("."), sha256_file(p), tuple(r.text for r in records))
    else:
        raise InputError(f"{path}: no such file or directory")
    if not src.texts:
        raise InputError(f"{path}: no documents (an assay corpus, a .parquet/.jsonl file with a "
                         f"{text_field!r} column, or a folder of {TEXT_FILE_SUFFIX} files)")
    return src
