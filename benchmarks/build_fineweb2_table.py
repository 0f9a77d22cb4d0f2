"""Build curate/recipes/data/fineweb2_languages.json: FineWeb-2's per-language filter settings for every
language lid.176 can emit (the `fineweb-2` recipe's package data).

Sources (cite, do not copy code): FineWeb-2's published per-language configurations,
https://github.com/huggingface/fineweb-2 configs/{iso639_3}_{script}.yml (thresholds and stop words, read
by its fineweb-2-pipeline.py), fineweb2-language-distribution.csv (to pick the script with the most
documents when a language has several), and datatrove 0.10.1's assets/tokenizer_assignment.csv (which
word tokenizer FineWeb-2 used per language). lid.176's labels are ISO 639-1 where one exists (else
639-3, or a Wikipedia code): mapped with pycountry plus the macrolanguage table below.

    python benchmarks/build_fineweb2_table.py FINEWEB2_CHECKOUT DATATROVE_ASSETS_DIR
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import fasttext
import pycountry
import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "curate" / "recipes" / "data" / "fineweb2_languages.json"
# lid.176 label -> the ISO 639-3 individual language FineWeb-2 files it under (macrolanguages and
# Wikipedia codes, which pycountry's alpha_2 lookup does not give).
LABEL_TO_ISO3 = {
    "zh": "cmn", "ar": "arb", "fa": "fas", "tl": "fil", "ms": "zsm", "no": "nob", "sq": "als", "et": "ekk",
    "lv": "lvs",
    "uz": "uzn", "mn": "khk", "ku": "kmr", "ps": "pbt", "sw": "swh", "az": "azj", "ne": "npi", "yi": "ydd",
    "or": "ory", "mg": "plt", "qu": "quy", "gn": "gug", "als": "gsw", "bh": "bho", "eml": "egl", "sh": "hrv",
    "nah": "nhe", "wuu": "wuu", "yue": "yue", "gom": "gom", "ckb": "ckb", "arz": "arz", "azb": "azb",
    "pnb": "pnb", "lrc": "lrc", "mzn": "mzn", "diq": "diq", "hif": "hif", "dty": "dty", "kv": "kpv",
    "ku_latn": "kmr", "fy": "fry", "ce": "che", "cv": "chv", "ba": "bak", "bo": "bod", "dv": "div",
}


def lid_labels() -> list[str]:
    from curate.filters.lid import packaged_model_path

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(str(packaged_model_path()))
    return [lab.removeprefix("__label__") for lab in model.get_labels()]


def iso3_of(label: str) -> str | None:
    if label in LABEL_TO_ISO3:
        return LABEL_TO_ISO3[label]
    key = "alpha_2" if len(label) == 2 else "alpha_3"
    lang = pycountry.languages.get(**{key: label})
    return getattr(lang, "alpha_3", None)


def main(fw2: Path, assets: Path) -> None:
    docs: dict[str, int] = {}
    with open(fw2 / "fineweb2-language-distribution.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "train" and not row["subset"].endswith("_removed"):
                docs[row["subset"]] = int(row["documents"] or 0)
    tokenizers = {}
    with open(assets / "tokenizer_assignment.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            tokenizers[f"{row['code_3']}_{row['script']}"] = (row["type"], row["tok_code"] or None)
    configs = {p.stem: p for p in (fw2 / "configs").glob("*.yml")}
    table: dict[str, dict] = {}
    for label in lid_labels():
        iso3 = iso3_of(label)
        names = sorted((n for n in configs if iso3 and n.split("_")[0] == iso3),
                       key=lambda n: -docs.get(n, 0))
        if not names:
            continue
        name = names[0]
        cfg = yaml.safe_load(configs[name].read_text(encoding="utf-8"))
        kind, tok_code = tokenizers.get(name, ("SpaCyTokenizer", "xx"))
        table[label] = {"config": name, "tokenizer": kind, "tokenizer_language": tok_code, **cfg}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(table, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    missing = sorted(set(lid_labels()) - set(table))
    print(f"{len(table)} lid.176 languages with a FineWeb-2 configuration; none for: {' '.join(missing)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
