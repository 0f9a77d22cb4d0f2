"""Golden digests of what `assay curate` decides and writes, so refactors cannot move outputs silently.

A digest reads an output directory back (not its bytes: Parquet and Arrow framing may change
without the content changing) and hashes, per category, a canonical JSON of its rows:

- `decisions`: per provenance row (source file name, record index) -> doc_id, decision, step,
  reason, dup_cluster, dup_of;
- `provenance`: every provenance column but the run-specific ones (run_id, source_file path);
- `documents`: every kept document's columns (text, signals, url, lang, ...) but run_id / path;
- `rejected`: the same for removed documents;
- `tokens`: token ids per doc_id, and the tokenizer's vocabulary.

Refresh (only when an output change is intended, and say so in the commit):

    .venv/bin/python tests/golden.py --refresh
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

GOLDEN_FILE = Path(__file__).with_name("golden_digests.json")
# The command the golden values stand for: every real WARC at the top of ../shared/data/warc, tokenized.
PATTERN = "*.warc.gz"
DROP = ("run_id", "source_file")  # differ with the run / checkout location, not with the decisions
DECISION_COLS = ("doc_id", "decision", "step", "reason", "dup_cluster", "dup_of")


def _hash(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def _rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return []
    rows = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default").to_pylist()
    for r in rows:
        if r.get("source_file"):
            r["source_name"] = Path(r["source_file"]).name
        for k in DROP:
            r.pop(k, None)
    return sorted(rows, key=lambda r: (r.get("source_name") or "",
                                       r.get("record_index", r.get("offset") or 0), r["doc_id"]))


def _tokens(out: Path) -> dict[str, Any]:
    ids: dict[str, list[int]] = {}
    for shard in sorted((out / "tokens").glob("*.arrow")):
        with pa.memory_map(str(shard)) as src:
            table = pa.ipc.open_file(src).read_all()
        for doc_id, toks in zip(table["doc_id"].to_pylist(), table["input_ids"].to_pylist(), strict=True):
            ids[doc_id] = toks
    vocab = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"] if ids else {}
    return {"ids": ids, "vocab": vocab}


def digest(out: Path) -> dict[str, Any]:
    """The golden digest of one curate output directory (see the module docstring)."""
    prov = _rows(out / "provenance")
    decisions = [{k: r.get(k) for k in ("source_name", "record_index", *DECISION_COLS)} for r in prov]
    counts: dict[str, int] = {}
    for r in prov:
        counts[r["decision"]] = counts.get(r["decision"], 0) + 1
    toks = _tokens(out)
    return {
        "counts": dict(sorted(counts.items())),
        "decisions": _hash(decisions),
        "provenance": _hash(prov),
        "documents": _hash(_rows(out / "documents")),
        "rejected": _hash(_rows(out / "rejected")),
        "tokens": _hash(toks["ids"]),
        "n_tokens": sum(len(v) for v in toks["ids"].values()),
        "tokenizer_vocab": _hash(toks["vocab"]),
    }


def golden() -> dict[str, Any]:
    return json.loads(GOLDEN_FILE.read_text())


def _refresh() -> None:
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import WARC_DIR
    from curate import curate, load_config

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "golden"
        curate([str(WARC_DIR / PATTERN)], out,
               load_config(overrides={"workers": 2, "tokenize.enabled": True}))
        value = digest(out)
    GOLDEN_FILE.write_text(json.dumps(value, indent=2) + "\n")
    print(json.dumps(value, indent=2))


if __name__ == "__main__":
    if sys.argv[1:] != ["--refresh"]:
        sys.exit("usage: python tests/golden.py --refresh")
    _refresh()
