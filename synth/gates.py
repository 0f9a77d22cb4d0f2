"""Gates: per-metric thresholds relative to the human reference, a verdict each and overall.

`assay synth validate` records the verdicts in the set's run.json; what training does with
them (only a set that passed is mixed, unless `--allow-failed-synthetic`) is the one policy
in `provenance.gates.check_mixable`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from provenance.gates import FAIL, NA, PASS
from provenance.tomlfile import load_toml

Kind = Literal["min_ratio", "max_ratio", "min_value", "max_value", "max_delta"]
KIND_TEXT = {
    "min_ratio": "synthetic >= {v} x reference",
    "max_ratio": "synthetic <= {v} x reference",
    "min_value": "synthetic >= {v}",
    "max_value": "synthetic <= {v}",
    "max_delta": "synthetic - reference <= {v}",
}


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str
    kind: Kind
    value: float
    why: str = ""

    def threshold(self, ref: float | None) -> float | None:
        if self.kind in ("min_ratio", "max_ratio"):
            return None if ref is None else self.value * ref
        if self.kind == "max_delta":
            return self.value + (ref or 0.0)  # no reference gap measured: compare with 0
        return self.value

    def verdict(self, synth: float | None, ref: float | None) -> str:
        t = self.threshold(ref)
        if synth is None or t is None:
            return NA
        ok = synth >= t if self.kind.startswith("min") else synth <= t
        return PASS if ok else FAIL


def default_gates() -> list[Gate]:
    g = [
        Gate(metric="distinct_2", kind="min_ratio", value=0.8, why="the tracker's example; Li et al. 2016"),
        Gate(metric="distinct_4", kind="min_ratio", value=0.8, why="same rule one n-gram order up"),
        Gate(metric="compression_ratio", kind="max_ratio", value=1.25,
             why="model text compresses more than human text (Shaib et al. 2024)"),
        Gate(metric="self_bleu", kind="max_ratio", value=1.5, why="Texygen self-BLEU (Zhu et al. 2018)"),
        Gate(metric="self_repetition", kind="max_ratio", value=1.5, why="Salkar et al. 2022"),
        Gate(metric="tail_mass", kind="min_ratio", value=0.7,
             why="collapse first loses the low-probability tail (Shumailov et al. 2024)"),
        Gate(metric="copy_rate_13", kind="max_value", value=0.5,
             why="verbatim 13-gram copying of seeds (Brown et al. 2020 overlap unit)"),
        Gate(metric="ppl_mean", kind="min_ratio", value=0.5,
             why="collapsed text is too probable: perplexity shrinks (Shumailov et al. 2024, Fig. 1)"),
        Gate(metric="ppl_p90", kind="max_ratio", value=3.0, why="a heavy upper tail is degenerate text"),
    ]
    for cat in ("gender", "race_ethnicity", "religion", "age"):
        g.append(Gate(metric=f"identity_tvd_{cat}", kind="max_value", value=0.2,
                      why="shares of identity mentions may move at most 0.2 TV from the reference"))
        g.append(Gate(metric=f"sentiment_gap_{cat}", kind="max_delta", value=0.2,
                      why="the identity x sentiment gap may not grow by more than 0.2 VADER compound"))
    return g


class ValidateConfig(BaseModel):
    """Everything `assay synth validate` reads from its config (TOML: top-level keys + [[gates]])."""

    model_config = ConfigDict(extra="forbid")

    gates: list[Gate] = Field(default_factory=default_gates)
    budget_tokens: int | None = None  # None: the smaller of the two sets' word-token counts
    # the reference's head: its most frequent types covering this share of its tokens; the rest is
    # the tail (a fixed top-k held nearly every type of a small reference, see metrics.head_types)
    tail_head_coverage: float = Field(0.9, gt=0, lt=1)
    self_bleu_sample: int = 64  # Texygen samples a subset too; keeps it O(sample^2)
    seed: int = 0
    terms_path: str | None = None

    @classmethod
    def from_toml(cls, path: str | Path | None) -> ValidateConfig:
        """The config in a TOML file (None: the defaults); `ConfigError` names the file and the key."""
        return cls() if path is None else load_toml(path, cls)


def evaluate(gates: list[Gate], metrics: dict[str, dict[str, float | None]]) -> dict:
    """Verdict per gate and overall (`fail` if any gate fails; `n/a` gates do not count)."""
    rows = []
    for gate in gates:
        m = metrics.get(gate.metric, {})
        s, r = m.get("synthetic"), m.get("reference")
        rows.append({"metric": gate.metric, "rule": KIND_TEXT[gate.kind].format(v=gate.value),
                     "kind": gate.kind, "value": gate.value, "synthetic": s, "reference": r,
                     "threshold": gate.threshold(r),
                     "verdict": gate.verdict(s, r), "why": gate.why})
    overall = FAIL if any(r["verdict"] == FAIL for r in rows) else PASS
    return {"overall": overall, "gates": rows}
