"""What an ablation writes beside its runs: ablate.json (every number), ablate.md (the table), two plots.

The plots are functions of ablate.json's numbers (`bpb_figure`, `curves_figure`), so the HTML report
section (assay/report.py) draws the same figures from the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provenance.outdir import atomic_path, write_text

ABLATE_JSON, ABLATE_MD = "ablate.json", "ablate.md"
BPB_PLOT, CURVES_PLOT = "ablate-bpb.png", "ablate-curves.png"


def read_ablation(out: str | Path) -> dict[str, Any]:
    return json.loads((Path(out) / ABLATE_JSON).read_text())


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bpb_figure(a: dict[str, Any]) -> Any:
    """Per evaluation set: each variant's bits per byte, every seed a dot, the mean a bar with +- 1 std."""
    plt = _plt()
    evals, variants = list(a["summary"]), list(a["variants"])
    fig, axes = plt.subplots(1, len(evals), figsize=(3.2 * len(evals) + 0.8, 3.4), squeeze=False)
    for ax, ev in zip(axes[0], evals, strict=True):
        for i, v in enumerate(variants):
            s = a["summary"][ev].get(v)
            if s is None:
                continue
            ax.errorbar([i], [s["mean"]], yerr=[s["std"] or 0.0], fmt="s", color=f"C{i}", capsize=6, ms=7)
            seeds = [r["eval"][ev]["bits_per_byte"] for r in a["runs"] if r["variant"] == v]
            ax.scatter([i + 0.12] * len(seeds), seeds, color=f"C{i}", s=12, alpha=0.6)
        ax.set_xticks(range(len(variants)), variants, rotation=20)
        ax.set_title(ev, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("bits per byte (lower is better)")
    fig.tight_layout()
    return fig


def curves_figure(a: dict[str, Any]) -> Any:
    """Learning curves: each run's loss on its own held-out documents against training tokens."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    colours = {v: f"C{i}" for i, v in enumerate(a["variants"])}
    for r in a["runs"]:
        if r["curve"]:
            xs, ys = zip(*r["curve"], strict=True)
            first = r["seed"] == a["ablation"]["seeds"][0]
            ax.plot(xs, ys, color=colours[r["variant"]], alpha=0.8, label=r["variant"] if first else None)
    ax.set_xlabel("training tokens")
    ax.set_ylabel("held-out loss (nats/token, own variant)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None})  # same numbers, same bytes
    _plt().close(fig)


def _cell(s: dict[str, Any] | None) -> str:
    if s is None:
        return "n/a"
    return f"{s['mean']:.4f} ± {s['std']:.4f}" if s["std"] is not None else f"{s['mean']:.4f}"


def _md_name(name: str) -> str:
    return name.replace("|", "\\|").replace("\n", " ")


def comparisons(a: dict[str, Any]) -> list[dict[str, str]]:
    """Each non-baseline variant against the baseline, per evaluation set, formatted for a table."""
    rows = []
    for ev in a["summary"]:
        for v in a["variants"]:
            c = (a["summary"][ev].get(v) or {}).get("vs_baseline")
            if c is None:
                continue
            ci = f"[{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}]" if c["ci95"] else "n/a"
            rows.append({"variant": v, "eval": ev, "difference": f"{c['mean_difference']:+.4f}", "ci95": ci,
                         "verdict": c["verdict"]})
    return rows


def markdown(a: dict[str, Any]) -> str:
    ab, evals, variants = a["ablation"], list(a["summary"]), list(a["variants"])
    lines = [f"# Ablation {ab['run_id']}", "",
             f"Every run: preset `{ab['preset']}`, {ab['tokens_per_run']:,} training tokens "
             f"({ab['steps']} steps; budget {ab['budget_tokens']:,}), seeds {ab['seeds']}, "
             f"baseline `{_md_name(ab['baseline'])}`. "
             f"Tokenizer: {a['tokenizer']['how']} (sha256 {a['tokenizer']['sha256'][:12]}).", "",
             "## Bits per byte (mean ± standard deviation over seeds; lower is better)", "",
             "| variant | epochs | " + " | ".join(_md_name(e) for e in evals) + " |",
             "|---|---|" + "---|" * len(evals)]
    for v in variants:
        epochs = sorted({r["epochs"] for r in a["runs"] if r["variant"] == v})
        lines.append(f"| {_md_name(v)} | {epochs[0]:.2f} | "
                     + " | ".join(_cell(a["summary"][e].get(v)) for e in evals) + " |")
    lines += ["", f"## Against the baseline `{_md_name(ab['baseline'])}` (paired by seed)", "",
              "| variant | evaluation | mean difference | 95% interval | verdict |", "|---|---|---|---|---|"]
    for c in comparisons(a):
        lines.append(f"| {_md_name(c['variant'])} | {_md_name(c['eval'])} | {c['difference']} | {c['ci95']} "
                     f"| {c['verdict']} |")
    sets = [f"`{_md_name(k)}` {d['documents']:,} documents, {d['bytes']:,} bytes"
            for k, d in a["evals"].items()]
    lines += ["", "Evaluation sets: " + "; ".join(sets), ""]
    return "\n".join(lines)


def write_outputs(out: Path, a: dict[str, Any]) -> None:
    """ablate.json, ablate.md and the two plots, each written atomically."""
    write_text(out / ABLATE_JSON, json.dumps(a, indent=1, sort_keys=True) + "\n")
    write_text(out / ABLATE_MD, markdown(a))
    _save(bpb_figure(a), out / BPB_PLOT)
    _save(curves_figure(a), out / CURVES_PLOT)
