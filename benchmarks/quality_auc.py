"""ROC-AUC of a quality classifier on documents it never saw, DCLM's settings against fastText's
small-data tutorial settings (`--lr 1.0 --epoch 25`), over three seeds: the figures in docs/quality.md.

    python benchmarks/quality_auc.py CORPUS

CORPUS is the output of README's Quickstart step 1 (`assay curate ../shared/data/warc/*.warc.gz -o
out/corpus --workers 2 --tokenize`). As tests/test_quality.py does: positives are the curated
python-3.11-docs documents, negatives every text extracted from cc-2020-34-slice and wget-crawl-2024-a
(kept or removed by a filter); scored on the curated postgresql-15-docs documents against every text
extracted from wget-crawl-2024-b. Both settings use 100k hash buckets (a 40 MB model; DCLM's 2M make
an 800 MB one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polars as pl

from curate import TrainConfig, train_classifier
from curate.quality.classifier import Classifier
from curate.quality.metrics import roc_auc

SETTINGS = {"DCLM (lr 0.1, 5 epochs)": TrainConfig(bucket=100_000),
            "tutorial (lr 1.0, 25 epochs)": TrainConfig(lr=1.0, epoch=25, bucket=100_000)}


def texts(frame: pl.DataFrame, *warcs: str) -> list[str]:
    picked = frame.filter(pl.any_horizontal(pl.col("source_file").str.ends_with(f"/{w}") for w in warcs))
    return [t for t in picked["text"].to_list() if t.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    out = ap.parse_args().corpus
    cols = ["source_file", "text"]
    kept = pl.read_parquet(out / "documents" / "*.parquet", columns=cols)
    every = pl.concat([kept, pl.read_parquet(out / "rejected" / "*.parquet", columns=cols)])
    pos, neg = texts(kept, "python-3.11-docs.warc.gz"), texts(every, "cc-2020-34-slice.warc.gz",
                                                              "wget-crawl-2024-a.warc.gz")
    docs, web = texts(kept, "postgresql-15-docs.warc.gz"), texts(every, "wget-crawl-2024-b.warc.gz")
    print(f"train: {len(pos)} positive, {len(neg)} negative; scored: {len(docs)} docs, {len(web)} web pages")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pl.DataFrame({"text": pos}).write_parquet(root / "pos.parquet")
        pl.DataFrame({"text": neg}).write_parquet(root / "neg.parquet")
        for name, cfg in SETTINGS.items():
            aucs = []
            for seed in (0, 1, 2):
                model = root / f"{name[:4]}-{seed}"
                train_classifier([str(root / "pos.parquet")], [str(root / "neg.parquet")], model,
                                 cfg.model_copy(update={"seed": seed}))
                clf = Classifier(model / "model.bin", "__label__hq", lowercase=True)
                labels = [True] * len(docs) + [False] * len(web)
                aucs.append(roc_auc([clf.score(t) for t in docs + web], labels))
            print(f"{name:30s} ROC-AUC " + " ".join(f"{a:.3f}" for a in aucs))


if __name__ == "__main__":
    main()
