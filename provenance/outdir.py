"""The layout of an assay output directory, and the only code that writes files into one.

Every path under an output root is spelled here (`OutDir`); every file is written atomically
(a temp file beside the target, then `os.replace`), so a reader never sees half a file and a
killed run leaves only whole files; every resumable task leaves one kind of completion
marker (`write_marker` / `read_marker`): a JSON file holding the task's `key` (what its
output depends on) and its `result`, written last. A directory holds one run at a time
(`claim`), and `list_outputs` is the outputs listing every `run.json` carries.

    out = OutDir(path)
    write_parquet(out.part(DOCUMENTS, "part-00000"), table)
    write_marker(out.marker("extract", "part-00000"), key={"sha256": ...}, result={"records": 10})
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from provenance.errors import InputError
from provenance.schema import PARQUET_OPTIONS

# Folders and files of an output directory (DESIGN.md "Data contracts").
PROVENANCE = "provenance"  # one row per input record
DOCUMENTS = "documents"  # kept documents
REJECTED = "rejected"  # removed documents with step and reason
TOKENS = "tokens"  # Arrow IPC token shards
SYNTH = "synth"  # a synthetic set's per-request records
WORK = "_work"  # intermediate files of resumable stages; not outputs
TOKENIZER = "tokenizer.json"
REPORT = "report.html"
REPORT_JSON = "report.json"  # the numbers a report.html shows (validation and run reports)
MANIFEST = "run.json"  # the run manifest (provenance.manifest)
STATE = "state.json"  # under _work/: which run this directory holds
CLASSIFIER_MODEL = "model.bin"  # a quality classifier's directory (`assay quality train`): the fastText model
CLASSIFIER_CARD = "card.json"  # ... and its card: sources, hyperparameters, held-out metrics

DATA_FOLDERS = (PROVENANCE, DOCUMENTS, REJECTED, TOKENS, SYNTH)  # listed, file by file, in run.json
TOP_FILES = (TOKENIZER, REPORT)

# The run kinds whose output directories are corpora (documents/ + provenance/).
CORPUS_KINDS = ("curate", "takedown")
# The names assay gives the files it writes in the data folders (part_name, shard_name): only files so
# named are read as parts, listed as outputs, or ever removed; a user's own files there are left alone.
OUTPUT_NAME = re.compile(r"^(?:part|shard)-\d{5,}\.(?:parquet|arrow)$")


def part_name(index: int) -> str:
    """The stem of task `index`'s part files (input order, so names are stable across reruns)."""
    return f"part-{index:05d}"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.arrow"


@dataclass(frozen=True)
class OutDir:
    """Paths inside one output directory; creates nothing by itself."""

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    def folder(self, name: str) -> Path:
        return self.root / name

    def part(self, folder: str, stem: str, suffix: str = ".parquet") -> Path:
        return self.root / folder / f"{stem}{suffix}"

    def parts(self, folder: str, suffix: str = ".parquet") -> list[Path]:
        """The part files assay wrote in a folder (OUTPUT_NAME), sorted by name (= task order)."""
        return sorted(p for p in (self.root / folder).glob(f"*{suffix}") if OUTPUT_NAME.match(p.name))

    def work(self, stage: str) -> Path:
        return self.root / WORK / stage

    def work_file(self, stage: str, stem: str, suffix: str = ".parquet") -> Path:
        return self.root / WORK / stage / f"{stem}{suffix}"

    def work_parts(self, stage: str, suffix: str = ".parquet") -> list[Path]:
        """The part files a resumable stage left under _work/<stage>/, sorted by name."""
        return sorted(p for p in self.work(stage).glob(f"*{suffix}") if not p.name.startswith("."))

    def marker(self, stage: str, stem: str) -> Path:
        return self.root / WORK / stage / f"{stem}.done"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def tokenizer(self) -> Path:
        return self.root / TOKENIZER

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def shards(self) -> list[Path]:
        return self.parts(TOKENS, ".arrow")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_entry(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """{path, bytes, sha256} for a file; path relative to `root` when given."""
    p = Path(path)
    shown = os.path.relpath(p, root) if root is not None else str(p)
    return {"path": shown, "bytes": p.stat().st_size, "sha256": sha256_file(p)}


# --- atomic writes --------------------------------------------------------------------------


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success rename it over `path`, on error remove it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp directory beside `path` to fill; on success it replaces `path` (an older one is
    removed first), on error it is removed. For outputs that are a directory (a checkpoint)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(path: str | os.PathLike[str], table: pa.Table) -> Path:
    """One Parquet file with the project's options (zstd, statistics): same table, same bytes."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **PARQUET_OPTIONS)
    return Path(path)


def write_arrow(path: str | os.PathLike[str], batches: Iterator[pa.RecordBatch] | list[pa.RecordBatch],
                schema: pa.Schema) -> Path:
    """An Arrow IPC file (the token shard format) from record batches."""
    with atomic_path(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    return Path(path)


# --- completion markers -------------------------------------------------------------------------


def write_marker(path: str | os.PathLike[str], key: dict[str, Any], result: dict[str, Any]) -> None:
    """Mark a task finished: written last, after every file the task writes.

    `key` is what the task's output depends on (input sha256, config, tokenizer...); a rerun
    whose key differs redoes the task. `result` is what the task returned (counts).
    """
    write_json(path, {"key": key, "result": result})


def read_marker(path: str | os.PathLike[str], key: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The task's result when its marker exists (and, given `key`, matches it); else None."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "result" not in data:
        return None
    if key is not None and data.get("key") != json.loads(json.dumps(key, default=str)):
        return None
    return data["result"]


# --- one run per directory ----------------------------------------------------------------------


def claim(root: str | os.PathLike[str], run_id: str, kind: str, overwrite: bool = False) -> OutDir:
    """Make `root` the output directory of run `run_id`, or refuse.

    The same run (same inputs and config, so the same run_id) resumes. Another assay run is refused
    unless `overwrite`, which first removes what that run wrote (`remove_outputs`). A non-empty
    directory that holds no assay run is refused unless `overwrite`: then the run writes beside the
    files already there and never lists or removes them.
    """
    out = OutDir(root)
    if out.root.exists() and not out.root.is_dir():
        raise InputError(f"{out.root}: exists and is not a directory")
    previous = _previous_run(out)
    if previous is None and not overwrite and out.root.is_dir() and any(out.root.iterdir()):
        raise InputError(f"{out.root}: not empty and not an assay output directory; choose a new or "
                         "empty directory, or pass --overwrite to write beside its files (assay removes "
                         "none of them)")
    if previous is not None and previous.get("run_id") != run_id:
        if not overwrite:
            raise InputError(f"{out.root} holds {previous.get('kind') or 'another'} run "
                             f"{previous.get('run_id')} (other inputs or config); "
                             "use another -o or --overwrite")
        remove_outputs(out)
    write_json(out.work("") / STATE, {"run_id": run_id, "kind": kind})
    return out


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A JSON file's object, or None when it cannot be read or holds something else (a list, a number)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _previous_run(out: OutDir) -> dict[str, Any] | None:
    """{run_id, kind} of the assay run `out` holds (its _work/state.json, else its run.json), or None."""
    state = read_json_object(out.work("") / STATE)
    if state is not None:
        return state
    manifest = read_json_object(out.manifest)
    return manifest if manifest is not None and manifest.get("run_id") else None


def remove_outputs(out: OutDir) -> None:
    """Remove what an earlier assay run wrote here, and nothing else: the files its run.json lists (when
    they carry assay's names), its run.json and `_work/`; for a run that never finished (no run.json of
    its own), the files in the data folders with assay's part and shard names and tokenizer.json /
    report.html. Files of other names, and folders that still hold any, stay."""
    state = read_json_object(out.work("") / STATE) or {}
    manifest = read_json_object(out.manifest) or {}
    victims = [out.root / e["path"] for e in manifest.get("outputs") or [] if isinstance(e, dict) and
               isinstance(e.get("path"), str)]
    if manifest.get("run_id") != state.get("run_id", manifest.get("run_id")):  # an unfinished run
        victims += [p for sub in DATA_FOLDERS for p in out.parts(sub, "")]
        victims += [out.root / name for name in TOP_FILES]
    for path in victims:
        if _is_output(out, path):
            path.unlink(missing_ok=True)
    out.manifest.unlink(missing_ok=True)
    shutil.rmtree(out.root / WORK, ignore_errors=True)
    for sub in DATA_FOLDERS:
        folder = out.folder(sub)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _is_output(out: OutDir, path: Path) -> bool:
    """A file assay writes: a part or shard directly in a data folder, or one of TOP_FILES."""
    try:
        rel = path.relative_to(out.root)
    except ValueError:
        return False
    parts = rel.parts
    if len(parts) == 1:
        return parts[0] in TOP_FILES
    return len(parts) == 2 and parts[0] in DATA_FOLDERS and bool(OUTPUT_NAME.match(parts[1]))


def list_outputs(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """{path, bytes, sha256} of every output file: the data folders' parts and shards (assay's names
    only), then tokenizer.json and report.html."""
    out = OutDir(root)
    files = sorted(p for sub in DATA_FOLDERS for p in out.parts(sub, "") if p.is_file())
    files += [out.root / name for name in TOP_FILES if (out.root / name).is_file()]
    return [file_entry(p, out.root) for p in files]


def run_kind(root: str | os.PathLike[str]) -> str | None:
    """The `kind` of the run in `root` (from its run.json), or None when it holds no readable run."""
    man = read_json_object(Path(root) / MANIFEST)
    return man.get("kind") if man is not None else None
