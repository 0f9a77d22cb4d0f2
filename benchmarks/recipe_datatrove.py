"""datatrove's FineWeb steps with every filter's exclusions written, for benchmarks/recipe_vs_datatrove.py;
run inside benchmarks/.venv-datatrove (never imported by assay).

Usage: python recipe_datatrove.py CONFIG.json
CONFIG: {warc_dir, out_dir, lid_model, timeout}. Writes out_dir/decisions.jsonl: one line per page the
WarcReader read, {id, url, decision: kept|rejected, step, reason}; a page that no writer saw was dropped
by the extractor (empty text or timeout): step "extract".

Steps are datatrove 0.10.1's examples/fineweb.py without the dedup stages: WarcReader -> Trafilatura(
favour_precision) -> LanguageFilter (English, 0.65: languages=["en"] is given, as 0.10.1's default
keeps every language) -> GopherRepetitionFilter -> GopherQualityFilter ->
C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter. Deviations, each to compare like
with like: no URLFilter (its UT1 list is not shipped by assay, and tldextract would reach the network);
Trafilatura's deduplicate is off (order-dependent, so off in assay too); lid.176 is the local .ftz copy.
Trafilatura's timeout is wall-clock time (datatrove: 1 s), so on a loaded machine pages vanish at random:
the pages the first pass dropped at extraction are run again alone with a 600 s timeout (`retry`), so
the reference does not depend on machine load (assay limits CPU time, not wall time).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
)
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID

# datatrove's step -> assay's step name (provenance `step`)
STEPS = {"lid": "lid", "gopher_repetition": "gopher_repetition", "gopher_quality": "gopher_quality",
         "c4": "c4", "fineweb_quality": "fineweb_quality"}


def _writer(folder: Path) -> JsonlWriter:
    return JsonlWriter(str(folder), output_filename="${rank}.jsonl.gz")


def _read(folder: Path) -> list[dict]:
    docs = []
    for part in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            docs += [json.loads(line) for line in fh]
    return docs


def run(steps: list, tasks: int, logs: Path) -> None:
    LocalPipelineExecutor(pipeline=steps, tasks=tasks, workers=1, logging_dir=str(logs),
                          skip_completed=False).run()


def fineweb_pass(cfg: dict, warcs: str, out: Path, timeout: float) -> None:
    """The FineWeb steps over `warcs`, kept and excluded documents written under `out`."""

    class LocalFT176(FT176LID):  # DESIGN.md: a local MODEL_URL keeps datatrove offline
        MODEL_URL = cfg["lid_model"]

    tasks = len(list(Path(warcs).glob("*.warc.gz")))
    # languages=["en"]: FineWeb's LanguageFilter kept English (examples/fineweb.py writes the rest to
    # "2_non_english"); datatrove 0.10.1's default became every language.
    lid = LanguageFilter(languages=["en"], language_threshold=0.65,
                         exclusion_writer=_writer(out / "excluded" / "lid"))
    lid.model = LocalFT176(["en"])
    ex = {name: _writer(out / "excluded" / name) for name in STEPS if name != "lid"}
    run([
        WarcReader(warcs, glob_pattern="*.warc.gz"),
        Trafilatura(favour_precision=True, timeout=timeout, deduplicate=False),
        lid,
        GopherRepetitionFilter(exclusion_writer=ex["gopher_repetition"]),
        GopherQualityFilter(exclusion_writer=ex["gopher_quality"]),
        C4QualityFilter(filter_no_terminal_punct=False, exclusion_writer=ex["c4"]),
        FineWebQualityFilter(exclusion_writer=ex["fineweb_quality"]),
        _writer(out / "kept"),
    ], tasks, out / "logs")


def decisions(out: Path) -> dict[str, dict]:
    decided: dict[str, dict] = {}
    for d in _read(out / "kept"):
        decided[d["id"]] = {"decision": "kept", "step": None, "reason": None}
    for name, step in STEPS.items():
        for d in _read(out / "excluded" / name):
            reason = d["metadata"].get("filter_reason") or d["metadata"].get("language")
            decided[d["id"]] = {"decision": "rejected", "step": step, "reason": reason}
    return decided


def retry(cfg: dict, out: Path, decided: dict[str, dict], read: list[dict]) -> None:
    """Run the pages the first pass dropped at extraction again, alone, with a 600 s timeout."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    dropped = {d["id"] for d in read} - set(decided)
    folder = out / "retry-warc"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "retry.warc.gz", "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for part in sorted(Path(cfg["warc_dir"]).glob("*.warc.gz")):
            with open(part, "rb") as src:
                for rec in ArchiveIterator(src):
                    if rec.rec_headers.get_header("WARC-Record-ID") in dropped:
                        writer.write_record(rec)
    fineweb_pass(cfg, str(folder), out / "retry", 600)
    decided.update(decisions(out / "retry"))


def main(cfg: dict) -> None:
    out, warcs = Path(cfg["out_dir"]), cfg["warc_dir"]
    if not (out / "kept").exists():
        tasks = len(list(Path(warcs).glob("*.warc.gz")))
        run([WarcReader(warcs, glob_pattern="*.warc.gz"), _writer(out / "read")], tasks, out / "logs-read")
        fineweb_pass(cfg, warcs, out, cfg.get("timeout", 10))
    read = _read(out / "read")
    decided = decisions(out)
    retry(cfg, out, decided, read)
    with open(out / "decisions.jsonl", "w", encoding="utf-8") as fh:
        for d in read:
            row = decided.get(d["id"], {"decision": "rejected", "step": "extract", "reason": "no-text"})
            fh.write(json.dumps({"id": d["id"], "url": d["metadata"].get("url"), **row}) + "\n")


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
