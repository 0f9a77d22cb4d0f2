"""`assay demo`: the whole loop on a sample crawl that every Python installation can build.

The sample is made of article pages written from the docstrings of standard-library
modules (the prose `pydoc` shows),
packed into a WARC by our own writer (warcio) with fixed dates and record ids, so
the demo ships no third-party text and gives the same crawl on every run.

The loop, each stage one function, each writing one directory under OUT:

    sample-crawl/  the WARC (unless --warc gives the user's files)
    corpus/        curate + tokenize (provenance for every record)
    train/         the `tiny` Llama trained on corpus/tokens on the CPU
    ablation/      is the curation worth it? `raw` (extraction only) against the curated corpus: the
                   same tiny model, the same token budget, two seeds each, scored in bits per byte
    model/         its Hugging Face export
    synth/         continuations generated with vLLM from corpus documents
    synth-validation/  collapse and bias gates against the human corpus
    disclosure/    the AB 2013 disclosure of corpus + synth + train
    report.html    one page over all of it (assay/report.py); demo.json: settings and timings
"""

from __future__ import annotations

import contextlib
import html
import importlib
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from provenance.errors import InputError, UserError
from provenance.outdir import OutDir, atomic_path, write_text

# Pure-Python stdlib modules with substantial docstrings (documentation-like prose).
SAMPLE_MODULES = (
    "abc", "argparse", "base64", "bisect", "calendar", "cmd", "codecs", "collections", "colorsys",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "email.message", "enum", "fileinput", "fnmatch", "fractions", "functools", "getopt", "gettext",
    "glob", "graphlib", "gzip", "hashlib", "heapq", "hmac", "html", "http.client", "imaplib",
    "ipaddress", "json", "keyword", "linecache", "locale", "logging", "mailbox", "mimetypes",
    "netrc", "numbers", "operator", "optparse", "pathlib", "pickle", "pprint", "queue", "quopri",
    "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib",
    "socketserver", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "timeit", "tokenize", "trace", "traceback", "turtle", "typing",
    "unittest", "urllib.parse", "uuid", "warnings", "wave", "weakref", "webbrowser", "zipfile",
    "ast", "asyncio.events", "asyncio.locks", "asyncio.queues", "asyncio.streams", "asyncio.tasks", "bz2",
    "code", "codeop", "compileall", "concurrent.futures", "dis", "doctest", "email.parser", "email.utils",
    "filecmp", "ftplib", "getpass", "http.cookiejar", "http.cookies", "http.server", "importlib.metadata",
    "inspect", "io", "lzma", "multiprocessing.pool", "os", "pdb", "pkgutil", "platform", "plistlib",
    "poplib", "profile", "pstats", "py_compile", "pydoc", "reprlib", "runpy", "socket", "sqlite3", "ssl",
    "symtable", "tomllib", "tracemalloc", "types", "unittest.mock", "urllib.request", "wsgiref.handlers",
    "xml.dom.minidom", "xml.etree.ElementTree", "xmlrpc.client", "zipapp", "zoneinfo",
)
SAMPLE_DATE = "2024-01-15T12:00:00Z"
SAMPLE_HOST = "https://docs.sample.invalid"
SAMPLE_FILENAME = "pydoc-sample.warc.gz"


def _paragraphs(doc: str) -> list[str]:
    """A docstring's paragraphs, each folded onto one line."""
    return [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n") if p.strip()]


def _page(module_name: str) -> bytes | None:
    """An article page for one module, written from its docstrings (the prose pydoc shows):
    the module's own, then each public class and function defined there, in name order."""
    with warnings.catch_warnings():  # deprecated members warn when touched; the page stays the same
        warnings.simplefilter("ignore")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return None
        return _article(module_name, module)


def _article(module_name: str, module: Any) -> bytes:
    parts = [f"<h1>{html.escape(module_name)}</h1>"]
    parts += [f"<p>{html.escape(p)}</p>" for p in _paragraphs(module.__doc__ or "")]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not obj.__doc__:
            continue
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in _paragraphs(obj.__doc__)]
    title = html.escape(f"{module_name} — Python standard library")
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
            f"<body><nav><a href=\"/\">Library index</a></nav><article>{''.join(parts)}</article>"
            f"<footer>Generated from the docstrings of Python "
            f"{sys.version_info.major}.{sys.version_info.minor}</footer>"
            "</body></html>")
    return page.encode("utf-8")


def _record_id(key: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'assay-demo:' + key)}>"


def _write_response(writer: WARCWriter, url: str, body: bytes, content_type: str, key: str) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                            protocol="HTTP/1.1")
    rec = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict={"WARC-Date": SAMPLE_DATE, "WARC-Record-ID": _record_id(key)},
    )
    writer.write_record(rec)


def build_sample_crawl(path: str | Path, modules: tuple[str, ...] = SAMPLE_MODULES) -> Path:
    """Write a gzipped WARC of pydoc pages (+ a mirrored copy, a robots.txt and a request record,
    so the funnel shows duplicates and non-HTML records too). Deterministic bytes."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        # a fixed WARC-Filename: the same crawl bytes wherever the file is written
        info = writer.create_warcinfo_record(SAMPLE_FILENAME,
                                             {"software": "assay demo", "format": "WARC/1.1"})
        info.rec_headers.replace_header("WARC-Date", SAMPLE_DATE)
        info.rec_headers.replace_header("WARC-Record-ID", _record_id("warcinfo"))
        writer.write_record(info)
        _write_response(writer, f"{SAMPLE_HOST}/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain",
                        "robots")
        for i, name in enumerate(modules):
            body = _page(name)
            if body is None:
                continue
            url = f"{SAMPLE_HOST}/library/{name}.html"
            _write_response(writer, url, body, "text/html; charset=utf-8", url)
            if i % 10 == 0:  # a mirror serving the same page: an exact duplicate for the demo
                mirror = f"https://mirror.sample.invalid/library/{name}.html"
                _write_response(writer, mirror, body, "text/html; charset=utf-8", mirror)
    return path




# ------------------------------------------------------------------------------------ the loop


@dataclass(frozen=True)
class DemoSettings:
    """How big each stage runs. FULL fits the tracker's 15 minutes on 2 CPU cores; SMALL is CI's."""

    modules: tuple[str, ...] = SAMPLE_MODULES
    vocab_size: int = 4096  # byte-level BPE on ~1 MB of text: 4k merges cover it (GPT-2 used 50k on 40 GB)
    train_steps: int = 150  # tiny preset, 16 x 128 tokens a step: 307k tokens (600 steps of 4 x 128 before)
    eval_every: int = 50
    ablation_tokens: int = 81_920  # per run: 40 tiny steps; 2 variants x 2 seeds: about one more training
    ablation_seeds: int = 2
    synth_seeds: int = 64  # seed documents -> one continuation each
    prefix_words: int = 24  # prompt = first words of a seed; tiny's context is 128 tokens
    max_tokens: int = 64  # generated tokens per request (vLLM's default of 16 is too short, DESIGN.md)
    seed: int = 0


FULL = DemoSettings()
SMALL = DemoSettings(modules=SAMPLE_MODULES[:30], vocab_size=2048, train_steps=8, eval_every=4,
                     ablation_tokens=4096, synth_seeds=16, max_tokens=48)

STAGE_DIRS = ("corpus", "train", "ablation", "model", "synth", "synth-validation", "disclosure")
DEMO_RECORD = "demo.json"  # written first (the stage directories the demo makes), then with the timings

# What no scan can know about the demo, stated honestly (AB 2013 items the records cannot answer).
DEMO_DECLARATIONS = """\
purpose = "A demonstration: a tiny language model trained on Python's own documentation, to show the \
pipeline end to end."
data_types = "Plain text extracted from HTML documentation pages."
personal_information = "The pages are generated from the Python standard library's docstrings; \
authors' names may appear."
processing = "Filtering and deduplication remove boilerplate and repeated pages so the model learns \
from the prose."

[system]
name = "assay demo model"
developer = "whoever ran `assay demo`"
version = "demo"

[sources]
owners = ["Python Software Foundation (pydoc pages of the standard library, rendered locally)"]
notes = "No network crawl: the WARC is built by `assay demo` from the local Python installation."

[licensing]
purchased = false
licensed = false
terms = "Python documentation, PSF licence; nothing bought or licensed."

[consumer_information]
aggregate = false

[collection]
ongoing = false

[synthetic]
used = true
purpose = "Shows generation and the collapse/bias gates; the demo model is not trained on it."
"""


def _say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything the stages print (progress bars, worker output) to stderr, so that
    stdout carries one line: the report's path. Works at the file-descriptor level too."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def curate_stage(warcs: list[str], out: Path, s: DemoSettings) -> Path:
    from curate import curate, load_config

    corpus = out / "corpus"
    cfg = load_config(overrides={"workers": 2, "tokenize.enabled": True, "tokenize.vocab_size": s.vocab_size})
    manifest = curate(warcs, corpus, cfg, overwrite=True, progress=True)
    if manifest["counts"]["kept"] == 0:
        records = manifest["counts"]["records"]
        raise InputError(f"no document of {records} records passed curation, so there is nothing to train "
                         f"on; see why in {OutDir(corpus).report}")
    return corpus


def train_threads() -> int | None:
    """One torch thread when the CPUs are already oversubscribed, else torch's default. Measured here
    (2 cores, load ~9): the tiny model's step took 15.3 s with 2 threads and 2.4-3.2 s with 1, since
    OpenMP threads wait at every op's barrier for a sibling that is descheduled."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    return 1 if load > (os.cpu_count() or 1) else None


def train_stage(corpus: Path, out: Path, s: DemoSettings) -> Path:
    from train import make_config, train

    threads = train_threads()
    _say(f"training with {threads or 'default'} torch thread(s)")
    cfg = make_config("tiny", data=[f"human={corpus}"], overrides={
        "out_dir": out / "train", "steps": s.train_steps, "eval_every": s.eval_every, "threads": threads,
        "log_every": max(1, min(10, s.train_steps // 20)), "seed": s.seed, "device": "cpu"})
    return train(cfg)


def ablation_stage(warcs: list[str], corpus: Path, out: Path, s: DemoSettings) -> Path:
    """`raw` (the same crawl, extraction only: the `raw` recipe) against the demo's curated corpus;
    raw is the baseline, so the verdict says whether curation helped, or that no difference was detected."""
    from train.ablate import AblateConfig, ablate, parse_variant

    return ablate(AblateConfig(
        variants=[parse_variant("raw=curate:raw"), parse_variant(f"curated={corpus}")], inputs=warcs,
        budget_tokens=s.ablation_tokens, seeds=s.ablation_seeds, first_seed=s.seed, threads=train_threads(),
        out_dir=out / "ablation"), say=_say)


def export_stage(run: Path, out: Path) -> Path:
    from train import export_hf

    return export_hf(run, out / "model")


def generate_stage(model: Path, corpus: Path, out: Path, s: DemoSettings) -> Path:
    """vLLM in a child process: its engine spawns workers and changes process-wide state
    (torch threads, logging); a child keeps that out of the caller (and out of stdout)."""
    synth = out / "synth"  # the demo's stage directory (STAGE_DIRS)
    args = {"model": str(model), "seeds": str(corpus), "out": str(synth), "max_seeds": s.synth_seeds,
            "prefix_words": s.prefix_words, "max_tokens": s.max_tokens, "seed": s.seed}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "assay.demo", "generate", json.dumps(args)],
                          env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if proc.returncode != 0:
        raise UserError(f"synthetic generation failed (vLLM child exited {proc.returncode}); "
                        "see the log above")
    return synth


def _generate_child(args: dict[str, Any]) -> None:
    from synth.generate import Sampling, generate

    generate(args["model"], args["seeds"], args["out"], "continuation", seed=args["seed"],
             sampling=Sampling(max_tokens=args["max_tokens"]), max_seeds=args["max_seeds"],
             params={"prefix_words": args["prefix_words"]}, progress=True,
             purpose="assay demo: continuations of documentation pages, to exercise the collapse and "
                     "bias gates")


def validate_stage(synth: Path, corpus: Path, out: Path) -> Path | None:
    """None when the model generated nothing usable: the report then says "not validated"."""
    from provenance.manifest import read_manifest
    from synth.validate import validate

    if not read_manifest(synth).get("counts", {}).get("kept"):
        _say("no synthetic document was generated (see synth/provenance): skipping validation")
        return None
    dest = out / "synth-validation"
    validate(synth, corpus, dest)
    return dest


def disclose_stage(dirs: list[Path], out: Path) -> Path:
    from provenance.disclosure import write_disclosure

    decl = out / "declarations.toml"
    write_text(decl, DEMO_DECLARATIONS)
    dest = out / "disclosure"
    write_disclosure(dirs, dest, declarations=decl)
    return dest


def _timed(timings: dict[str, float], name: str, fn: Callable[..., Any], *args: Any) -> Any:
    _say(f"{name} ...")
    t0 = time.perf_counter()
    result = fn(*args)
    timings[name] = round(time.perf_counter() - t0, 1)
    _say(f"{name} done in {timings[name]:.1f} s")
    return result


def prepare_out(out: Path) -> None:
    """Make `out` the demo's directory: refuse one the demo did not make (a non-empty directory without
    its demo.json, or a stage directory its demo.json does not list); clear the stage directories an
    earlier demo made there, so a rerun starts clean. Nothing else in `out` is touched."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        try:
            record = json.loads((out / DEMO_RECORD).read_text())
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise InputError(f"{out}: not empty and not an `assay demo` output directory (no readable "
                             f"{DEMO_RECORD}); choose a new or empty -o")
        made = record.get("stages", STAGE_DIRS)  # demo.json of earlier versions: every stage directory
        foreign = [n for n in STAGE_DIRS if (out / n).exists() and n not in made]
        if foreign:
            raise InputError(f"{out / foreign[0]}: not made by `assay demo`; choose another -o")
        for name in STAGE_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / DEMO_RECORD, json.dumps({"stages": list(STAGE_DIRS), "status": "running"}) + "\n")


def run_demo(out: str | Path, warcs: list[str] | None = None, small: bool = False,
             settings: DemoSettings | None = None) -> Path:
    """Crawl -> corpus -> tiny model -> ablation -> synthetic set -> gates -> disclosure -> one report.
    Returns the path of OUT/report.html. Stage output goes to stderr."""
    from assay.report import write_report

    s = settings or (SMALL if small else FULL)
    out = Path(out).resolve()
    if warcs:
        missing = [w for w in warcs if not any(ch in w for ch in "*?[") and not Path(w).exists()]
        if missing:
            raise InputError(f"no such WARC file: {missing[0]}")
    prepare_out(out)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if not warcs:
        warcs = [str(_timed(timings, "sample crawl", build_sample_crawl,
                            out / "sample-crawl" / SAMPLE_FILENAME, s.modules))]
    corpus = _timed(timings, "curate + tokenize", curate_stage, warcs, out, s)
    run = _timed(timings, "train", train_stage, corpus, out, s)
    ablation = _timed(timings, "ablation", ablation_stage, warcs, corpus, out, s)
    model = _timed(timings, "export", export_stage, run, out)
    synth = _timed(timings, "generate (vLLM)", generate_stage, model, corpus, out, s)
    validation = _timed(timings, "validate", validate_stage, synth, corpus, out)
    disclosure = _timed(timings, "disclose", disclose_stage, [corpus, synth, run], out)
    report = _timed(timings, "report", write_report, out, {
        "corpus": corpus, "train": run, "model": model, "ablation": ablation, "synth": synth,
        "validation": validation, "disclosure": disclosure})
    timings["total"] = round(time.perf_counter() - t0, 1)
    write_text(out / DEMO_RECORD, json.dumps(
        {"stages": list(STAGE_DIRS), "settings": {**asdict(s), "modules": len(s.modules)}, "small": small,
         "warcs": warcs, "timings_s": timings}, indent=2) + "\n")
    _say(f"total {timings['total']:.0f} s: "
         + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "total"))
    return report


if __name__ == "__main__":  # `python -m assay.demo generate JSON`: the vLLM child of generate_stage
    if len(sys.argv) == 3 and sys.argv[1] == "generate":
        _generate_child(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: python -m assay.demo generate JSON_ARGS")
