"""Evaluation text for an ablation: an assay corpus (its kept documents), a Parquet or JSONL file with a
`text` column, or a folder of `.txt` files (sorted by name). Empty texts are dropped; a source with no text
left is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from provenance.errors import InputError
from provenance.outdir import DOCUMENTS, MANIFEST, OutDir

TEXT = "text"


def read_texts(name: str, path: Path) -> list[str]:
    """The texts of evaluation source `name` at `path`, in a fixed order."""
    where = f"evaluation source {name!r} ({path})"
    if path.is_dir():
        corpus = (path / MANIFEST).exists() or OutDir(path).parts(DOCUMENTS)
        texts = _corpus(path) if corpus else _txt_folder(path)
    elif path.suffix == ".parquet":
        texts = _parquet(path, where)
    elif path.suffix in (".jsonl", ".ndjson"):
        texts = _jsonl(path, where)
    elif path.exists():
        raise InputError(f"{where}: expected an assay corpus, a .parquet or .jsonl file with a '{TEXT}' "
                         "column, or a folder of .txt files")
    else:
        raise InputError(f"{where}: no such file or directory")
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise InputError(f"{where} has no text")
    return texts


def _corpus(path: Path) -> list[str]:
    from curate import kept_documents

    return [text for _, text in kept_documents(path)]


def _txt_folder(path: Path) -> list[str]:
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    return [p.read_text(encoding="utf-8", errors="replace") for p in files]


def _parquet(path: Path, where: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"{where}: not a Parquet file ({e})") from None
    if TEXT not in schema.names:
        raise InputError(f"{where}: no '{TEXT}' column (columns: {', '.join(schema.names)})")
    return [t if isinstance(t, str) else "" for t in pq.read_table(path, columns=[TEXT])[TEXT].to_pylist()]


def _jsonl(path: Path, where: str) -> list[str]:
    texts = []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: line {i} is not JSON ({e.msg})") from None
        text = row.get(TEXT) if isinstance(row, dict) else None
        texts.append(text if isinstance(text, str) else "")
    return texts
