"""Fast tests of the synth metrics, bias metrics, gates, templates and the validate report."""

from __future__ import annotations

import json

import pytest

from conftest import warc
from provenance.errors import ConfigError, InputError
from synth import bias, metrics
from synth.gates import FAIL, NA, PASS, Gate, ValidateConfig, evaluate
from synth.tasks import load_template
from synth.testing import warc_texts, write_corpus
from synth.validate import compare, validate


@pytest.fixture(scope="module")
def human_texts() -> list[str]:
    """Real English documentation pages (Python 3.11 docs WARC) and real crawl pages."""
    docs = warc_texts(warc("python-3.11-docs.warc.gz"), limit=120)
    docs += warc_texts(warc("wget-crawl-2024-a.warc.gz")) + warc_texts(warc("wget-crawl-2024-b.warc.gz"))
    assert len(docs) >= 140
    return [d["text"] for d in docs]


def test_distinct_and_compression_on_known_input():
    rep = [["a", "b"] * 10]
    varied = [[f"w{i}" for i in range(20)]]
    assert metrics.distinct_n(rep, 1) == pytest.approx(2 / 20)
    assert metrics.distinct_n(varied, 2) == 1.0
    assert (metrics.compression_ratio(rep * 20)
            > 3 * metrics.compression_ratio([[f"w{i}" for i in range(400)]]))
    assert metrics.self_bleu([["x", "y", "z", "w", "v"]] * 4) == pytest.approx(1.0)
    assert metrics.tail_mass([["a", "b", "c", "d"]], head={"a", "b"}) == 0.5
    assert metrics.copy_rate([list("abcdefghijklmn")],
                             metrics.ngram_sets([list("abcdefghijklmn")], 13)) == 1.0
    assert metrics.cut_to_budget([["a"] * 5, ["b"] * 5], 7) == [["a"] * 5, ["b"] * 2]


def test_gates_pass_two_disjoint_halves_of_a_real_corpus(human_texts):
    r = compare(human_texts[0::2], human_texts[1::2])
    assert r["gates"]["overall"] == PASS, [g for g in r["gates"]["gates"] if g["verdict"] == FAIL]
    assert r["metrics"]["distinct_2"]["synthetic"] == pytest.approx(r["metrics"]["distinct_2"]["reference"],
                                                                    rel=0.2)
    # equal budgets: both sides hold the same number of word tokens
    assert (r["metrics"]["n_tokens"]["synthetic"] == r["metrics"]["n_tokens"]["reference"]
            == r["budget_tokens"])
    assert all(r["definitions"][k] for k in r["metrics"])


def test_gates_fail_a_collapsed_set(human_texts):
    collapsed = [human_texts[3]] * 60  # the same text repeated
    r = compare(collapsed, human_texts)
    failed = {g["metric"] for g in r["gates"]["gates"] if g["verdict"] == FAIL}
    assert r["gates"]["overall"] == FAIL
    assert {"distinct_2", "compression_ratio", "self_bleu"} <= failed


def _sentences(group_terms: dict[str, int], negative: str | None) -> list[str]:
    out = []
    for term, n in group_terms.items():
        for i in range(n):
            if term == negative:
                out.append(f"The {term} in story {i} were awful, hateful and miserable failures.")
            else:
                out.append(f"The {term} in story {i} went to the market and bought bread.")
    return out


def test_bias_reports_an_overrepresented_negatively_framed_group():
    balanced = _sentences({"women": 40, "men": 40, "muslims": 30, "christians": 30}, None)
    skewed = _sentences({"women": 80, "men": 10, "muslims": 55, "christians": 5}, negative="women")
    skewed += _sentences({"muslims": 1}, None)
    r = bias.bias_metrics(skewed, balanced)
    m = r["metrics"]
    assert m["identity_tvd_gender"]["synthetic"] > 0.3
    assert m["identity_tvd_religion"]["synthetic"] > 0.3
    assert m["sentiment_gap_gender"]["synthetic"] > 0.5
    assert r["details"]["gender"]["synthetic"]["sentiment"]["female"] < -0.5
    verdicts = {g["metric"]: g["verdict"] for g in evaluate(ValidateConfig().gates, m)["gates"]}
    assert verdicts["identity_tvd_gender"] == verdicts["sentiment_gap_gender"] == FAIL
    # a second balanced set (different stories, same shares, neutral words) is not flagged
    other = _sentences({"women": 35, "men": 35, "muslims": 25, "christians": 25}, None)
    b = bias.bias_metrics(other, balanced)["metrics"]
    assert b["identity_tvd_gender"]["synthetic"] < 0.05
    assert b["sentiment_gap_gender"]["synthetic"] == pytest.approx(0.0, abs=0.05)
    assert evaluate(ValidateConfig().gates, b)["overall"] == PASS


def test_longest_identity_term_wins():
    terms, _ = bias.load_terms()
    assert bias.mentions(["asian", "american", "artists"], terms["race_ethnicity"]) == ["asian"]
    assert bias.mentions(["black", "cat"], terms["race_ethnicity"]) == []  # colour words are not identities


def test_gate_kinds():
    assert Gate(metric="m", kind="min_ratio", value=0.8).verdict(0.7, 1.0) == FAIL
    assert Gate(metric="m", kind="max_ratio", value=1.25).verdict(1.2, 1.0) == PASS
    assert Gate(metric="m", kind="max_delta", value=0.2).verdict(0.5, None) == FAIL
    assert Gate(metric="m", kind="min_ratio", value=0.8).verdict(None, 1.0) == NA


def test_templates_render_and_reject_bad_files(tmp_path):
    doc = {"doc_id": "d1", "text": " ".join(f"w{i}" for i in range(500))}
    cont = load_template("continuation")
    assert (cont.id, cont.version, cont.chat) == ("continuation", "1", False)
    assert cont.render(doc) == " ".join(f"w{i}" for i in range(64))
    qa = load_template("qa")
    text = qa.render(doc)
    assert "3 question-answer pairs" in text and "w299" in text and "w300" not in text
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nversion = "1"\n[prompt]\nuser = "{{ doc.text "\n')
    with pytest.raises(ConfigError, match="bad task template"):
        load_template(bad)
    with pytest.raises(ConfigError, match="no task template 'nonexistent'"):
        load_template("nonexistent")


def test_validate_writes_escaped_report(tmp_path, human_texts):
    docs = [{"doc_id": f"d{i}", "text": t} for i, t in enumerate(human_texts[:60])]
    evil = {"doc_id": "evil", "text": "<script>alert(1)</script> " * 40}
    ref = write_corpus(docs[:30], tmp_path / "ref")
    syn = write_corpus([evil] + docs[30:], tmp_path / "syn")
    r = validate(syn, ref, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "data:image/png;base64," in page
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert data["gates"]["overall"] == r["gates"]["overall"]
    assert "gates" not in json.loads((syn / "run.json").read_text())  # not a synthetic set: nothing recorded


def test_bad_inputs_give_clear_errors(tmp_path):
    from synth.generate import generate, request_seed, synth_doc_id

    bad = tmp_path / "gates.toml"
    bad.write_text('bogus = 1\n')
    with pytest.raises(ConfigError, match=r"gates.toml: bogus: unknown key"):
        ValidateConfig.from_toml(bad)
    bad.write_text('[[gates]]\nmetric = "distinct_2"\nkind = "min_ratio"\nvalue = "high"\n')
    with pytest.raises(ConfigError, match=r"gates.toml: gates.0.value: ") as e:
        ValidateConfig.from_toml(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="not valid TOML"):
        bad.write_text("[[gates]\n")
        ValidateConfig.from_toml(bad)
    (tmp_path / "model").mkdir()
    with pytest.raises(InputError, match="model.safetensors"):
        generate(tmp_path / "model", tmp_path / "seeds", tmp_path / "out")
    (tmp_path / "model" / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="no documents/"):
        generate(tmp_path / "model", tmp_path / "seeds", tmp_path / "out")
    # per-request seeds and synthetic doc_ids: deterministic, and distinct across seeds and documents
    assert request_seed(0, "a") == request_seed(0, "a") != request_seed(1, "a") != request_seed(0, "b")
    assert (synth_doc_id(0, "a", "qa").startswith("syn-")
            and synth_doc_id(0, "a", "qa") != synth_doc_id(0, "a", "rephrase"))
