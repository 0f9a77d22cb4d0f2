"""Language ID: the compiled predict (curate/filters/_fasttext.pyx) gives fastText's own answers, bit for
bit: on every page of the shared WARCs, on seeded strings of fastText's edge cases, and on a second
model of another shape (quantized with a norm, a last sub-quantizer of one dimension, maxn 5)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conftest import WARC_DIR, _require
from curate.fasttext_file import read_arrays, reproducible, walk
from curate.filters import _fasttext, lid
from curate.read.decode import decode_html, looks_like_html
from curate.read.extract import extract_text
from curate.read.warc import read_warc

# fastText's separators (readWord: " \n\r\t\v\f\0"; "\n" never reaches it), characters that only
# Python calls whitespace, "</s>" (ends the line where spelled out), labels (skipped), words of the
# vocabulary and not, 1- to 4-byte UTF-8.
PIECES = ["the", "der", "и", "東京", "naïve", "x", "ab", "zzzz", "</s>", "</s", "__label__en", "__label__",
          "__label__zz", "\x00", "\t", " ", "  ", "\x0b", "\r", "\x0c", "\xa0", "\u3000", "\x1c", "é", "🙂",
          "’", "docs.python.org", "3.14", "<", ">", "<>", "Ω", "ß"]


def _reference(model, sample: str) -> tuple[str | None, float]:
    labels, probs = model.predict(sample, k=1)
    return (labels[0].removeprefix("__label__"), float(probs[0])) if labels else (None, 0.0)


def _compiled(predictor, arrays, sample: str) -> tuple[str | None, float]:
    label, prob = predictor.predict(sample)
    return (arrays.labels[label], prob) if label >= 0 else (None, 0.0)


def _seeded(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 14))) for _ in range(count)]


@pytest.fixture(scope="module")
def lid176():
    path = str(lid.packaged_model_path())
    layout = walk(path)
    assert reproducible(layout)
    arrays = read_arrays(path, layout)
    return _fasttext.Predictor(arrays), arrays, lid._load(path)


def test_compiled_predict_is_fasttexts_on_every_shared_page(lid176):
    predictor, arrays, model = lid176
    identifier = lid.LanguageIdentifier()
    assert identifier._compiled is not None  # the compiled predict is the one the chain uses
    pages = 0
    langs = set()
    for path in sorted(_require(WARC_DIR).glob("*.warc.gz")):
        for rec in read_warc(path, "0" * 64):
            if rec.warc_type != "response" or not looks_like_html(rec.content_type, rec.payload):
                continue
            html, _, _ = decode_html(rec.payload, rec.content_type)
            text = extract_text(html, "resiliparse") if html else ""
            sample = " ".join(text[:10_000].split())
            if not sample:
                continue
            pages += 1
            answer = _compiled(predictor, arrays, sample)
            assert answer == _reference(model, sample), sample[:80]
            assert identifier.predict(text) == identifier.fasttext_predict(sample)
            langs.add(answer[0])
    assert pages > 2000 and len(langs) >= 8  # every crawl, several languages


@pytest.mark.parametrize("seed", range(2))
def test_compiled_predict_is_fasttexts_on_seeded_edge_cases(lid176, seed):
    predictor, arrays, model = lid176
    for sample in _seeded(seed, 4000):
        assert _compiled(predictor, arrays, sample) == _reference(model, sample), repr(sample)
    # a separator-only line still predicts (its "</s>"); a "</s>" ends the line, what follows is not read
    assert _compiled(predictor, arrays, "\t \x00") == _reference(model, "\t \x00")
    assert _compiled(predictor, arrays, "Das ist ein Haus </s> the cat is on the mat") == \
        _compiled(predictor, arrays, "Das ist ein Haus")


def test_a_sample_that_is_not_utf8_is_fasttexts_own_answer():
    identifier = lid.LanguageIdentifier()
    with pytest.raises(TypeError) as compiled:
        identifier.predict("abc \ud800 def")
    with pytest.raises(TypeError) as reference:
        identifier.fasttext_predict("abc \ud800 def")
    assert str(compiled.value) == str(reference.value)


def _train(tmp_path: Path, quantize: bool, **kwargs) -> Path:
    import fasttext  # the reference: installed with the project, never skipped

    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "délta", "東京", "naïve", "x", "yy", "zzz", "model"]
    lines = []
    for _ in range(600):
        label = rng.choice("abc")
        lines.append(f"__label__{label} " + " ".join(rng.choice(words) + label * rng.randint(0, 1)
                                                      for _ in range(8)))
    data = tmp_path / "train.txt"
    data.write_text("\n".join(lines) + "\n")
    model = fasttext.train_supervised(str(data), dim=10, minn=2, maxn=5, epoch=25, thread=1, verbose=0,
                                      **kwargs)
    if quantize:  # dim 10 in sub-quantizers of 3: the last one has 1 dimension; norms quantized too
        model.quantize(input=str(data), qout=False, cutoff=300, retrain=False, dsub=3, qnorm=True, verbose=0)
    path = tmp_path / ("model.ftz" if quantize else "model.bin")
    model.save_model(str(path))
    return path


def test_compiled_predict_is_fasttexts_on_a_model_of_another_shape(tmp_path):
    path = _train(tmp_path, quantize=True, loss="hs")
    layout = walk(path)
    assert reproducible(layout) and layout.dim == 10 and layout.maxn == 5 and 0 < layout.prune_size
    arrays = read_arrays(path, layout)
    predictor, model = _fasttext.Predictor(arrays), lid._load(str(path))
    answers = set()
    for sample in _seeded(7, 3000) + ["alphaa betab gammac", "zzzc zzzc", "yyb"]:
        answer = _compiled(predictor, arrays, sample)
        assert answer == _reference(model, sample), repr(sample)
        answers.add(answer[0])
    assert len(answers) >= 2  # the tree's walk reaches more than one leaf


@pytest.mark.parametrize("loss, quantize", [("softmax", True), ("hs", False)])
def test_a_model_the_compiled_predict_does_not_reproduce_is_predicted_by_fasttext(tmp_path, loss, quantize):
    path = _train(tmp_path, quantize=quantize, loss=loss)
    assert not reproducible(walk(path))
    identifier = lid.LanguageIdentifier(path)
    assert identifier._compiled is None
    assert identifier.predict("alphaa betab gammac") == identifier.fasttext_predict("alphaa betab gammac")
