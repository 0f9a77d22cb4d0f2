"""The corpora an ablation trains on, all with one tokenizer.

`curate:` variants are curated into OUT/variants/NAME (curate's own resume applies). The tokenizer is the
one given, else the one every tokenized variant shares, else a byte-level BPE trained on the union of the
variants' kept documents (in variant order). A variant already tokenized with it is used in place; any
other is re-tokenized into OUT/corpora/NAME, a `retokenize` run whose documents are hard links to the
variant's and whose run.json names it as parent (lineage follows it to the WARC files). Every step is
skipped when its output already matches (a rerun, a resume).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from provenance.errors import NotARunError
from provenance.manifest import now_iso, read_manifest, write_manifest
from provenance.outdir import (
    DOCUMENTS,
    PROVENANCE,
    OutDir,
    link_file,
    read_marker,
    sha256_file,
    write_bytes,
    write_marker,
)
from train.ablate.spec import Plan, Variant, curate_settings

VARIANTS, CORPORA, STAGE = "variants", "corpora", "ablate"
RETOKENIZE = "retokenize"  # the run kind of a re-tokenized copy


def prepare(plan: Plan, out: OutDir, say: Callable[[str], None]) -> tuple[dict[str, Path], Path]:
    """{variant: tokenized corpus dir} and the common tokenizer (OUT/tokenizer.json)."""
    sources = {v.name: _source(v, plan, out, say) for v in plan.cfg.variants}
    tok = _tokenizer(plan, out, sources, say)
    sha = sha256_file(tok)
    return {name: _tokenized(name, src, tok, sha, out, plan, say) for name, src in sources.items()}, tok


def _source(v: Variant, plan: Plan, out: OutDir, say: Callable[[str], None]) -> Path:
    if v.path is not None:
        return Path(v.path).resolve()
    from curate import curate, load_config

    dest = out.folder(VARIANTS) / v.name
    path, recipe = curate_settings(v.curate_config)
    cfg = load_config(path, {"tokenize.enabled": False}, recipe)
    say(f"curating variant {v.name} ({v.curate_config}) -> {dest}")
    curate(plan.cfg.inputs, dest, cfg, progress=plan.cfg.progress)
    return dest


def _texts(sources: dict[str, Path]) -> Iterator[str]:
    from curate import kept_documents

    for src in sources.values():
        for _, text in kept_documents(src):
            yield text


def _tokenizer(plan: Plan, out: OutDir, sources: dict[str, Path], say: Callable[[str], None]) -> Path:
    """OUT/tokenizer.json: given, shared by the tokenized variants, or trained on the union."""
    cfg, target = plan.cfg, out.tokenizer
    if cfg.tokenizer is not None:
        how, origin = f"given: {cfg.tokenizer}", Path(cfg.tokenizer)
    elif plan.tokenizer_sha256:
        first = next(iter(plan.tokenizer_sha256))
        how, origin = f"shared by the variants (from {first})", OutDir(sources[first]).tokenizer
    else:
        how, origin = f"trained: byte-level BPE, vocab {cfg.vocab_size}, on the union of the variants", None
    key = {"how": how, "origin_sha256": sha256_file(origin) if origin else None,
           "variants": {k: read_manifest(p).get("run_id") for k, p in sources.items()}}
    if target.exists() and read_marker(out.marker(STAGE, "tokenizer"), key) is not None:
        return target
    if origin is not None:
        write_bytes(target, origin.read_bytes())
    else:
        from curate import train_tokenizer

        say(f"training the common tokenizer ({how})")
        write_bytes(target, train_tokenizer(_texts(sources), cfg.vocab_size).to_str(pretty=True).encode())
    write_marker(out.marker(STAGE, "tokenizer"), key, {"how": how, "sha256": sha256_file(target)})
    return target


def tokenizer_source(out: OutDir) -> str:
    """How the common tokenizer was obtained (for ablate.json)."""
    return (read_marker(out.marker(STAGE, "tokenizer")) or {}).get("how", "")


def _tokenized_with(path: Path, sha: str) -> bool:
    try:
        section = read_manifest(path).get("tokenize") or {}
    except NotARunError:
        return False
    return (section.get("tokenizer") or {}).get("sha256") == sha and bool(OutDir(path).shards)


def _tokenized(name: str, src: Path, tok: Path, sha: str, out: OutDir, plan: Plan,
               say: Callable[[str], None]) -> Path:
    from curate import TokenizeConfig, tokenize_corpus

    if _tokenized_with(src, sha):
        return src
    own = out.folder(VARIANTS) in src.parents  # a variant this ablation curated: tokenized in place
    dest = src if own else out.folder(CORPORA) / name
    if not own and not _tokenized_with(dest, sha):
        _link_corpus(src, dest, sha)
    if not _tokenized_with(dest, sha):
        say(f"tokenizing variant {name} with the common tokenizer -> {dest}")
        tokenize_corpus(dest, TokenizeConfig(tokenizer=tok), progress=plan.cfg.progress)
    return dest


def _link_corpus(src: Path, dest: Path, tokenizer_sha: str) -> None:
    """A `retokenize` run at dest: the documents and provenance of src (hard links), src as its parent."""
    parent = read_manifest(src)
    for folder in (DOCUMENTS, PROVENANCE):
        for part in OutDir(src).parts(folder):
            link_file(part, OutDir(dest).part(folder, part.stem))
    run_id = hashlib.sha256(f"{parent.get('run_id')}:{tokenizer_sha}".encode()).hexdigest()[:32]
    write_manifest(dest, {"kind": RETOKENIZE, "run_id": run_id, "started_at": now_iso(),
                          "parent": {"path": str(src), "run_id": parent.get("run_id"),
                                     "kind": parent.get("kind")}})
