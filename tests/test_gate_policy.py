"""The synthetic-gate policy (provenance.gates.check_mixable): only a set that passed is mixed, unless
overridden.

The end-to-end checks (`assay train run` on a set `synth generate` wrote) are in test_synth_generate.py,
beside the vLLM engine they need; these are the rule itself, fast.
"""

from __future__ import annotations

import pytest

from provenance.errors import UserError
from provenance.gates import NOT_VALIDATED, PASS, SyntheticNotPassedError, check_mixable, gate_verdict

SET = "/data/syn"


def synth(gates=None):
    man = {"kind": "synth", "run_id": "synth-1"}
    if gates is not None:
        man["gates"] = gates
    return man


def test_only_a_passing_set_is_mixed_without_the_override():
    assert check_mixable("syn", SET, synth({"overall": PASS}), allow_failed=False) == {
        "name": "syn", "path": SET, "verdict": PASS, "override": False}
    for man, verdict in ((synth({"overall": "fail", "per_gate": {"distinct_2": "fail"}}), "fail"),
                         (synth({"overall": NOT_VALIDATED}), NOT_VALIDATED),
                         (synth(), NOT_VALIDATED),  # a run.json without any verdict
                         (synth({}), NOT_VALIDATED)):
        assert gate_verdict(man) == verdict
        with pytest.raises(SyntheticNotPassedError) as e:
            check_mixable("syn", SET, man, allow_failed=False)
        assert isinstance(e.value, UserError) and e.value.exit_code == 2
        msg = str(e.value)
        assert "\n" not in msg and "'syn'" in msg and SET in msg
        assert "assay synth validate" in msg and "--allow-failed-synthetic" in msg
        assert check_mixable("syn", SET, man, allow_failed=True) == {
            "name": "syn", "path": SET, "verdict": verdict, "override": True}


def test_human_corpora_are_not_gated():
    for man in ({"kind": "curate"}, {"kind": "takedown"}, {}):
        assert check_mixable("web", "/data/web", man, allow_failed=False) is None
