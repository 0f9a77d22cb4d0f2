#!/usr/bin/env bash
# Idempotent: create benchmarks/.venv-datatrove for the side-by-side MinHash benchmark.
# datatrove gets its own virtualenv (DESIGN.md): it pins xxhash<4 (4.x changes its MinHash
# signatures), and its word tokenizer needs spacy; none of that may leak into assay's .venv.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
VENV="$HERE/.venv-datatrove"
STAMP="$VENV/.installed"
PY="${PY:-python3}"
STAMP_FW="$VENV/.installed-fineweb"
# FineWeb steps for benchmarks/curate_vs_datatrove.py (DESIGN.md: WarcReader needs warcio,
# faust-cchardet, python-magic; LanguageFilter looks for the distribution fasttext-numpy2-wheel;
# Trafilatura 2.x + lxml 6 need lxml_html_clean; the filters import nltk / ftfy / pyahocorasick).
install_fineweb() {
  if [ ! -f "$STAMP_FW" ]; then
    "$VENV/bin/pip" install -q "trafilatura>=2" lxml_html_clean warcio faust-cchardet python-magic \
      fasttext-numpy2-wheel nltk ftfy pyahocorasick fasteners orjson zstandard
    "$VENV/bin/python" -P -c "import trafilatura, warcio, cchardet, magic, fasttext, nltk; from datatrove.pipeline.filters import GopherQualityFilter, C4QualityFilter, FineWebQualityFilter, LanguageFilter; from datatrove.pipeline.extractors import Trafilatura; from datatrove.pipeline.readers import WarcReader"
    touch "$STAMP_FW"
  fi
}
if [ -f "$STAMP" ]; then
  install_fineweb
  echo "datatrove venv ready: $VENV"
  exit 0
fi
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# datatrove's MinHash stages: xxhash (<4, see above), numpy, spacy (English word splitter,
# spacy.blank needs no model download), regex for its text normaliser, tokenizers (imported by its dedup package); input is JSONL.
"$VENV/bin/pip" install -q "datatrove==0.10.1" "xxhash<4" "spacy>=3.7,<4" regex tokenizers orjson zstandard fasteners
"$VENV/bin/python" -c "import datatrove, xxhash; from datatrove.pipeline.dedup import MinhashDedupSignature; print('datatrove', datatrove.__version__ if hasattr(datatrove, '__version__') else '', 'xxhash', xxhash.VERSION)"
touch "$STAMP"
install_fineweb
echo "datatrove venv ready: $VENV"
