"""datatrove's FineWeb steps over a folder of WARC files; run inside benchmarks/.venv-datatrove by
benchmarks/curate_vs_datatrove.py (never imported by assay).

Usage: python curate_datatrove.py CONFIG.json
CONFIG: {warc_dir, out_dir, lid_model, workers, read_only, timeout}. Prints one JSON line:
{seconds, kept}. With read_only the pipeline is WarcReader alone: `kept` = documents it read.

Steps and arguments follow datatrove's examples/fineweb.py: WarcReader -> Trafilatura(favour_
precision) -> LanguageFilter(0.65; all languages, as our run) -> GopherRepetitionFilter ->
GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter ->
JsonlWriter. Two deviations, both to compare like with like: Trafilatura's deduplicate is off
(ours is, for reproducible output) and its timeout is ours (10 s, not 1 s); the lid.176 model is
the local copy (datatrove would download lid.176.bin).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
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


def main(cfg: dict) -> None:
    out = Path(cfg["out_dir"])

    class LocalFT176(FT176LID):  # DESIGN.md: a local MODEL_URL keeps datatrove offline
        MODEL_URL = cfg["lid_model"]

    n_files = len(list(Path(cfg["warc_dir"]).glob("*.warc.gz")))
    steps = [WarcReader(cfg["warc_dir"], glob_pattern="*.warc.gz")]
    if not cfg.get("read_only"):
        lid = LanguageFilter(language_threshold=0.65)
        lid.model = LocalFT176(None)
        steps += [
            Trafilatura(favour_precision=True, timeout=cfg.get("timeout", 10), deduplicate=False),
            lid,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter(),
        ]
    steps.append(JsonlWriter(str(out / "docs"), output_filename="${rank}.jsonl.gz"))
    executor = LocalPipelineExecutor(
        pipeline=steps,
        tasks=n_files,
        workers=cfg["workers"],
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    start = time.perf_counter()
    executor.run()
    seconds = time.perf_counter() - start
    kept = 0
    for part in (out / "docs").glob("*.jsonl.gz"):
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            kept += sum(1 for _ in fh)
    print(json.dumps({"seconds": seconds, "kept": kept}))


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()))
