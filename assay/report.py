"""One static report over a whole run: corpus, training, synthetic set, gates, disclosure.

`write_report(root, parts)` writes ROOT/report.html and ROOT/report.json. Every number on
the page is read from the stage outputs (provenance parquet, run.json files, metrics.jsonl,
the validation report.json, ab2013.json) and also written to report.json, so tests can
check the page against the records. The page is self-contained: inline CSS, matplotlib
PNGs as data URIs, no scripts, no fonts, no external URLs; links to the stage outputs are
relative. Everything that came from a crawl or a model goes through `html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import CSS, summary
from provenance.manifest import read_manifest
from provenance.outdir import DOCUMENTS, REPORT, REPORT_JSON, OutDir, write_text

PARTS = ("corpus", "train", "model", "ablation", "synth", "validation", "disclosure")
SAMPLES = 5  # kept documents shown, text cut at SAMPLE_CHARS
SAMPLE_CHARS = 700
EXTRA_CSS = """
img.plot{max-width:100%;height:auto;display:block;margin:.6rem 0}
tr.fail td{background:#fff0f0} tr.pass td{background:#effbef} .verdict{font-weight:600}
.verdict.fail{color:#c92a2a} .verdict.pass{color:#2b8a3e} nav a{margin-right:.8rem}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _n(key: str, value: Any) -> str:
    """A number on the page, tagged with its report.json key (tests compare the two)."""
    return f'<span class="num" data-n="{esc(key)}">{esc(_fmt(value))}</span>'


# ------------------------------------------------------------------------------------- plots


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    # no Software/date metadata: same numbers -> same bytes
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return (f'<img class="plot" alt="plot" '
            f'src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">')


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _barh(labels: list[str], values: list[int], title: str, color: str = "#4c6ef5") -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(labels) + 1.0))
    ax.barh(range(len(labels)), values, color=color)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,}", va="center", fontsize=8)
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _hist(values: list[int], title: str, xlabel: str, log: bool = False) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(values, bins=min(30, max(1, len(set(values)))), color="#4c6ef5")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if log:
        ax.set_yscale("log")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _bars(xs: list[int], ys: list[int], title: str, xlabel: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar([str(x) for x in xs], ys, color="#ae3ec9")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("clusters")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _loss_plot(rows: list[dict[str, Any]]) -> str:
    from train.run_record import loss_figure

    fig = loss_figure(rows, figsize=(7, 3.5))
    fig.axes[0].set_title("training loss")
    return _png(fig)


# ------------------------------------------------------------------------------------- numbers


def _tokens_per_doc(corpus: Path) -> list[int]:
    out: list[int] = []
    for shard in OutDir(corpus).shards:
        with pa.memory_map(str(shard)) as src:
            out += pa.ipc.open_file(src).read_all().column("n_tokens").to_pylist()
    return out


def corpus_numbers(corpus: Path) -> dict[str, Any]:
    from curate import dedup_summary

    s = summary(corpus)
    d = dedup_summary(corpus)
    s["dedup"] = d
    per_doc = _tokens_per_doc(corpus)
    s["tokens_per_doc"] = per_doc
    man = read_manifest(corpus)
    tok = man.get("tokenize") or {}
    s["tokens"] = {"n_tokens": tok.get("n_tokens", sum(per_doc) if per_doc else None),
                   "documents": len(per_doc), "shards": len(tok.get("shards", [])),
                   "vocab_size": (tok.get("tokenizer") or {}).get("vocab_size")}
    s["run_id"] = man.get("run_id")
    return s


def train_numbers(run: Path) -> dict[str, Any]:
    man = read_manifest(run)
    from train.run_record import METRICS

    rows = [json.loads(x) for x in (run / METRICS).read_text().splitlines() if x.strip()]
    tr = [r for r in rows if r.get("split") == "train"]
    va = [r for r in rows if r.get("split") == "val"]
    counts = man.get("counts") or {}
    return {
        "run_id": man.get("run_id"), "status": man.get("status"), "steps": counts.get("steps"),
        "tokens": counts.get("tokens"), "params": (man.get("model") or {}).get("params"),
        "final_train_loss": tr[-1]["loss"] if tr else None,
        "final_val_loss": va[-1]["val_loss"] if va else None,
        "first_train_loss": tr[0]["loss"] if tr else None,
        "tokens_per_s": tr[-1].get("tokens_per_s") if tr else None,
        "shards_consumed": len(man.get("shards_consumed") or []), "metrics": rows,
    }


def synth_numbers(synth: Path, validation: Path | None) -> dict[str, Any]:
    man = read_manifest(synth)
    counts = man.get("counts") or {}
    out: dict[str, Any] = {"run_id": man.get("run_id"), "seeds": counts.get("seeds"),
                           "kept": counts.get("kept"), "error": counts.get("error"),
                           "generator": (man.get("generator") or {}).get("model"),
                           "task": (man.get("task") or {}).get("id"), "sampling": man.get("sampling"),
                           "overall": (man.get("gates") or {}).get("overall")}
    if validation is not None and (validation / REPORT_JSON).exists():
        rep = json.loads((validation / REPORT_JSON).read_text())
        out["validation"] = rep
        out["overall"] = rep["gates"]["overall"]
        out["budget_tokens"] = rep.get("budget_tokens")
    return out


def disclosure_numbers(disclosure: Path) -> dict[str, Any]:
    from provenance.disclosure import FILES

    d = json.loads((disclosure / FILES["json"]).read_text())
    return {"items": [{k: it.get(k) for k in ("number", "title", "answer", "basis")} for it in d["items"]],
            "generated_at": d.get("generated_at"), "system": d.get("system")}


def numbers(parts: dict[str, Path | None]) -> dict[str, Any]:
    """Everything the page shows, read from the stage outputs."""
    n: dict[str, Any] = {}
    if parts.get("corpus"):
        n["corpus"] = corpus_numbers(Path(parts["corpus"]))
    if parts.get("train"):
        n["train"] = train_numbers(Path(parts["train"]))
    if parts.get("ablation"):
        from train.ablate import read_ablation

        n["ablation"] = read_ablation(Path(parts["ablation"]))
    if parts.get("synth"):
        n["synth"] = synth_numbers(Path(parts["synth"]),
                                   Path(parts["validation"]) if parts.get("validation") else None)
    if parts.get("disclosure"):
        n["disclosure"] = disclosure_numbers(Path(parts["disclosure"]))
    return n


# ------------------------------------------------------------------------------------- sections


def _table(headers: list[str], rows: list[list[str]], row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{esc(row_classes[i]) if row_classes else ""}">'
        + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
        for i, r in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(root: Path, target: Path, text: str) -> str:
    return f'<a href="{esc(Path(os.path.relpath(target, root)).as_posix())}">{esc(text)}</a>'


def corpus_section(root: Path, corpus: Path, c: dict[str, Any]) -> str:
    import polars as pl

    from curate import dedup_section_html

    d = c["decisions"]
    cards = "".join(f'<div class="card"><span class="muted">{esc(k)}</span>'
                    f'<b>{_n(f"corpus.{k}", v)}</b></div>'
                    for k, v in [("records", c["records"]), *d.items()])
    if c["tokens"]["n_tokens"] is not None:
        cards += (f'<div class="card"><span class="muted">tokens</span>'
                  f'<b>{_n("corpus.tokens", c["tokens"]["n_tokens"])}</b></div>')
    funnel = c["funnel"]
    labels = [f"{r['decision']}: {r['step']}" if r["step"] else r["decision"] for r in funnel]
    funnel_rows = [[esc(r["decision"]), esc(r["step"] or "—"),
                    _n(f"corpus.funnel.{r['decision']}.{r['step'] or ''}", r["len"])]
                   for r in funnel]
    langs = c["languages"]
    lang_rows = [[esc(r["lang"]), _n(f"corpus.lang.{r['lang']}", r["len"])] for r in langs]
    dom_rows = [[esc(r["domain"]), _n(f"corpus.domain.{r['domain']}", r["len"])] for r in c["domains"]]
    dd = c["dedup"]
    hist: dict[int, int] = {}
    for kind in ("exact", "near"):
        for size, k in dd[kind]["histogram"]:
            hist[size] = hist.get(size, 0) + k
    per_doc = c["tokens_per_doc"]
    tok = c["tokens"]
    parts = [str(p) for p in OutDir(corpus).parts(DOCUMENTS)]
    docs = pl.read_parquet(parts, columns=["url", "lang", "text"]).head(SAMPLES)
    samples = "".join(
        f"<h3>{esc(r['url'])} <span class='muted'>({esc(r['lang'])})</span></h3>"
        f"<pre>{esc((r['text'] or '')[:SAMPLE_CHARS])}</pre>"
        for r in docs.iter_rows(named=True))
    return f"""<section id="corpus"><h2>Curation: what happened to every record</h2>
<p class="muted">run <code>{esc(c['run_id'])}</code> ·
{_link(root, OutDir(corpus).report, 'curation report')} ·
{_link(root, OutDir(corpus).manifest, 'run.json')}</p>
<div class="cards">{cards}</div>
<h3>Funnel (records by decision and step)</h3>
{_barh(labels, [r['len'] for r in funnel], 'records by decision / step') if funnel else ''}
{_table(['decision', 'step', 'records'], funnel_rows)}
<h3>Languages of kept documents</h3>
{_barh([str(r['lang']) for r in langs[:10]], [r['len'] for r in langs[:10]], 'kept documents by language',
       '#2b8a3e') if langs else ''}
{_table(['lang', 'documents'], lang_rows)}
<h3>Top domains of kept documents</h3>{_table(['domain', 'documents'], dom_rows)}
{_bars(sorted(hist), [hist[k] for k in sorted(hist)], 'duplicate clusters by size (exact + near)',
       'documents in cluster') if hist else '<p>No duplicate clusters.</p>'}
{dedup_section_html(dd)}
<h3>Token counts</h3>
<p>{_n('corpus.tokens_total', tok['n_tokens'])} tokens in \
{_n('corpus.tokenized_documents', tok['documents'])} documents,
{_n('corpus.shards', tok['shards'])} shard(s), vocabulary {_n('corpus.vocab_size', tok['vocab_size'])}.</p>
{_hist(per_doc, 'tokens per document', 'tokens') if per_doc else ''}
<h3>Sample kept documents (escaped)</h3>{samples}
</section>"""


def train_section(root: Path, run: Path, model: Path | None, t: dict[str, Any]) -> str:
    from train.run_record import METRICS

    rows = [["steps", _n("train.steps", t["steps"])], ["tokens trained", _n("train.tokens", t["tokens"])],
            ["parameters", _n("train.params", t["params"])],
            ["first train loss", _n("train.first_train_loss", t["first_train_loss"])],
            ["final train loss", _n("train.final_train_loss", t["final_train_loss"])],
            ["final validation loss", _n("train.final_val_loss", t["final_val_loss"])],
            ["throughput (tokens/s, last interval)", _n("train.tokens_per_s", t["tokens_per_s"])],
            ["token shards consumed", _n("train.shards_consumed", t["shards_consumed"])]]
    links = [_link(root, OutDir(run).manifest, "run.json"),
             _link(root, run / METRICS, METRICS)]
    if model is not None:
        links.append(_link(root, model / "config.json", "HF export (config.json)"))
    return f"""<section id="train"><h2>Training the tiny model</h2>
<p class="muted">run <code>{esc(t['run_id'])}</code> ({esc(t['status'])}) · {' · '.join(links)}</p>
{_loss_plot(t['metrics']) if t['metrics'] else '<p>No metrics logged.</p>'}
{_table(['', ''], rows)}
</section>"""


def ablation_section(root: Path, ablation: Path, a: dict[str, Any]) -> str:
    """The ablation: bits per byte per variant and evaluation set (mean and spread over seeds), the paired
    comparison with the baseline in words that do not overclaim, and the plots (train/ablate/outputs.py)."""
    from train.ablate import ABLATE_JSON, ABLATE_MD, bpb_figure, comparisons, curves_figure

    ab, evals, variants = a["ablation"], list(a["summary"]), list(a["variants"])

    def cell(ev: str, v: str) -> str:
        s = a["summary"][ev].get(v)
        if s is None:
            return "n/a"
        spread = f" ± {_n(f'ablation.{ev}.{v}.std', s['std'])}" if s["std"] is not None else ""
        return _n(f"ablation.{ev}.{v}.mean", s["mean"]) + spread

    rows = [[esc(v), esc(f"{min(r['epochs'] for r in a['runs'] if r['variant'] == v):.2f}")]
            + [cell(ev, v) for ev in evals] for v in variants]
    comp_rows = [[esc(c["variant"]), esc(c["eval"]), esc(c["difference"]), esc(c["ci95"]),
                  _n(f"ablation.{c['eval']}.{c['variant']}.verdict", c["verdict"])] for c in comparisons(a)]
    links = " · ".join(_link(root, ablation / f, f) for f in (ABLATE_MD, ABLATE_JSON))
    return f"""<section id="ablation"><h2>Ablation: which corpus is the better training data?</h2>
<p class="muted">ablation <code>{esc(ab['run_id'])}</code> · {links}</p>
<p>The same model (preset <code>{esc(ab['preset'])}</code>) trained on each variant for
{_n('ablation.tokens_per_run', ab['tokens_per_run'])} tokens ({_n('ablation.steps', ab['steps'])} steps),
seeds {esc(', '.join(str(s) for s in ab['seeds']))}; every model scored on every evaluation set in bits per
byte (lower is better; comparable across tokenizers). Baseline: <code>{esc(ab['baseline'])}</code>.
A <code>heldout:NAME</code> set is that variant's held-out documents: compare models down a column.</p>
{_table(['variant', 'epochs', *evals], rows)}
<h3>Against the baseline, paired by seed</h3>
<p class="muted">A difference is claimed only when the 95% interval of the paired differences excludes zero
and the difference exceeds the spread over seeds.</p>
{_table(['variant', 'evaluation', 'mean difference (bits/byte)', '95% interval', 'verdict'], comp_rows)
 if comp_rows else '<p>One variant: nothing to compare.</p>'}
{_png(bpb_figure(a))}
{_png(curves_figure(a))}
</section>"""


def synth_section(root: Path, synth: Path, validation: Path | None, s: dict[str, Any]) -> str:
    overall = s.get("overall") or "not_validated"
    head = f"""<section id="synth"><h2>Synthetic set and its gates:
<span class="verdict {esc(overall)}" data-n="synth.overall">{esc(overall)}</span></h2>
<p class="muted">run <code>{esc(s['run_id'])}</code> · task {esc(s['task'])} ·
{_link(root, OutDir(synth).manifest, 'run.json')}
{' · ' + _link(root, validation / REPORT, 'validation report') if validation else ''}</p>
<p>{_n('synth.seeds', s['seeds'])} seed documents, {_n('synth.kept', s['kept'])} generated,
{_n('synth.error', s['error'])} error rows (reasons in the set's provenance).</p>"""
    rep = s.get("validation")
    if not rep:
        return head + "<p>Not validated.</p></section>"
    from synth.report import _plots  # the validation report's own metric plots

    gates = rep["gates"]["gates"]
    rows = [[esc(g["metric"]), esc(g["rule"]), esc(_fmt(g["synthetic"])), esc(_fmt(g["reference"])),
             esc(_fmt(g["threshold"])),
             f'<span class="verdict {esc(g["verdict"])}">{esc(g["verdict"])}</span>',
             esc(g["why"])] for g in gates]
    n_fail = sum(g["verdict"] == "fail" for g in gates)
    samples = "".join(f"<li><pre>{esc(x)}</pre></li>" for x in rep.get("samples", [])[:3])
    plots = "".join(p.replace("<img ", '<img class="plot" ', 1) for p in _plots(rep))
    return head + f"""<p>Both sets cut to {_n('synth.budget_tokens', rep.get('budget_tokens'))} word tokens;
{_n('synth.gates_failed', n_fail)} of {_n('synth.gates_total', len(gates))} gates failed.</p>
{_table(['metric', 'rule', 'synthetic', 'reference', 'threshold', 'verdict', 'why'], rows,
        [g['verdict'] for g in gates])}
<h3>Metric plots</h3>{plots}
<h3>Generated samples (escaped)</h3><ol>{samples}</ol>
</section>"""


def disclosure_section(root: Path, disclosure: Path, d: dict[str, Any]) -> str:
    from provenance.disclosure import FILES

    links = " · ".join(_link(root, disclosure / FILES[ext], FILES[ext]) for ext in ("html", "md", "json"))
    rows = [[str(it["number"]), esc(it["title"]), esc(it["basis"]), f"<pre>{esc(it['answer'])}</pre>"]
            for it in d["items"]]
    return f"""<section id="disclosure"><h2>AB 2013 training-data disclosure</h2>
<p>{links}</p>
{_table(['item', 'title', 'basis', 'answer'], rows)}
</section>"""


def render(root: str | Path, parts: dict[str, Path | None], n: dict[str, Any] | None = None) -> str:
    root = Path(root).resolve()
    parts = {k: (Path(v).resolve() if v else None) for k, v in parts.items()}
    n = n if n is not None else numbers(parts)
    body, nav = [], []
    if "corpus" in n:
        body.append(corpus_section(root, parts["corpus"], n["corpus"]))
        nav.append('<a href="#corpus">curation</a>')
    if "train" in n:
        body.append(train_section(root, parts["train"], parts.get("model"), n["train"]))
        nav.append('<a href="#train">training</a>')
    if "ablation" in n:
        body.append(ablation_section(root, parts["ablation"], n["ablation"]))
        nav.append('<a href="#ablation">ablation</a>')
    if "synth" in n:
        body.append(synth_section(root, parts["synth"], parts.get("validation"), n["synth"]))
        nav.append('<a href="#synth">synthetic</a>')
    if "disclosure" in n:
        body.append(disclosure_section(root, parts["disclosure"], n["disclosure"]))
        nav.append('<a href="#disclosure">disclosure</a>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay run report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}{EXTRA_CSS}</style></head>
<body><h1>assay run report</h1><p class="muted">{esc(root)} · numbers from the stage outputs: \
{_link(root, root / 'report.json', 'report.json')}</p>
<nav>{''.join(nav)}</nav>
{''.join(s.replace("<h2>", f"<h2>{i}. ", 1) for i, s in enumerate(body, 1))}
</body></html>
"""


def write_report(root: str | Path, parts: dict[str, Path | None]) -> Path:
    """Write ROOT/report.html and ROOT/report.json (the numbers it shows); return the HTML path."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown report parts {sorted(unknown)}; expected some of {PARTS}")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    n = numbers({k: (Path(v).resolve() if v else None) for k, v in parts.items()})
    page = render(root, parts, n)
    write_text(root / REPORT_JSON, json.dumps(n, indent=1, sort_keys=True, default=str) + "\n")
    return write_text(root / REPORT, page)
