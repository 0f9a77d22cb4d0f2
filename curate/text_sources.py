"""Records of text from the files users hand assay (evaluation sets, classifier training data).

One reader for JSON Lines, Parquet and plain text, so the quality classifier's sources and the
decontamination step's evaluation sets accept the same files and fail the same way: a missing
file, a line that is not JSON, a record without the configured field are one-line `InputError`s
naming the file (and the line), before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from provenance.errors import InputError

JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
TEXT_SUFFIXES = (".txt",)
FIELD_SEPARATOR = "\n"  # between the fields of one record (e.g. question and answer)


@dataclass(frozen=True)
class TextRecord:
    id: str  # the id field's value, else the record's 1-based line (JSONL, text) or row (Parquet)
    text: str


def _value(v: Any) -> str | None:
    if isinstance(v, str) or v is None:
        return v
    if isinstance(v, list | tuple):
        return " ".join(str(x) for x in v if x is not None)  # e.g. a multiple-choice item's options
    return str(v)


def _record(row: dict[str, Any], fields: Sequence[str], id_field: str | None, where: str,
            position: int) -> TextRecord:
    parts = [_value(row.get(f)) for f in fields]
    rid = _value(row.get(id_field)) if id_field else str(position)
    if rid is None or None in parts:
        missing = next(f for f in [*fields, id_field] if _value(row.get(f)) is None)
        raise InputError(f"{where}: no field {missing!r}")
    return TextRecord(rid, FIELD_SEPARATOR.join(parts))  # type: ignore[arg-type]


def _jsonl(path: Path, fields: Sequence[str], id_field: str | None) -> Iterator[TextRecord]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise InputError(f"{path}: line {n}: not a JSON object") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}: line {n}: not a JSON object")
            yield _record(row, fields, id_field, f"{path}: line {n}", n)


def _parquet(path: Path, fields: Sequence[str], id_field: str | None) -> Iterator[TextRecord]:
    try:
        names = pq.read_schema(path).names
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    wanted = list(dict.fromkeys([*fields, *([id_field] if id_field else [])]))
    missing = [f for f in wanted if f not in names]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r} (columns: {', '.join(names[:12])})")
    table = pq.read_table(path, columns=wanted)
    for i, row in enumerate(table.to_pylist(), start=1):
        yield _record(row, fields, id_field, f"{path}: row {i}", i)


def _lines(path: Path) -> Iterator[TextRecord]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                yield TextRecord(str(n), line.rstrip("\n"))


def read_records(path: Path, fields: Sequence[str] = ("text",),
                 id_field: str | None = None) -> list[TextRecord]:
    """Every record of a `.jsonl` / `.parquet` file (its `fields` joined by a newline) or of a `.txt`
    file (one record a non-empty line); blank texts are skipped."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        records = _jsonl(path, fields, id_field)
    elif suffix in PARQUET_SUFFIXES:
        records = _parquet(path, fields, id_field)
    elif suffix in TEXT_SUFFIXES:
        records = _lines(path)
    else:
        known = ", ".join(JSONL_SUFFIXES + PARQUET_SUFFIXES + TEXT_SUFFIXES)
        raise InputError(f"{path}: unsupported file type {suffix or '(none)'} (use {known})")
    try:
        return [r for r in records if r.text.strip()]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
