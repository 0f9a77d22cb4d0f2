"""The global dedup stage: after every per-file task, waves of executor tasks over the whole run.

In order, each step skipping what the steps before it removed:

1. `ids`: repeated WARC-Record-IDs (every row of the run);
2. `url` (optional): the same normalised URL twice keeps its latest capture;
3. `exact`: normalised-text hashes, first occurrence in input order kept;
4. `near`: MinHash LSH clusters, one representative kept.

Steps 1-3 are keyed map/reduce steps (`keyed`), step 4 a band map, a bucket reduce and one
components task (`near`). With `--dedup-against`, a first wave prepares the earlier corpora's
keys (`against`) and they take part in steps 3 and 4 ahead of this run's files.

The same code runs on every executor: the local one (inline, or a process pool) and Ray. Each
reduce partition is sized so that its task fits `task_memory_mb` (`shuffle.partitions_for`,
from the row count and the step's measured bytes per row): one partition when the run fits,
more when it does not. Every task writes its files and then its marker; the driver holds one
task per part or partition and the small results (counts, peak RSS) read back from markers, so
a killed driver reruns to the same output, skipping finished tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from curate import faults
from curate.dedup.against import EarlierPart, PrepareTask, prepare_part
from curate.dedup.config import NearDedupConfig
from curate.dedup.exact import ExactDuplicates
from curate.dedup.ids import RepeatedIds
from curate.dedup.keyed import KeyedStep, MapTask, ReduceTask, map_keys, reduce_keys
from curate.dedup.near import (
    BandTask,
    BucketTask,
    ComponentsTask,
    band_row_bytes,
    band_rows,
    bucket_edges,
    components,
)
from curate.dedup.shuffle import SUFFIX, FileSet, partitions_for
from curate.dedup.sources import Source, SourceMap
from curate.dedup.url import UrlDuplicates
from curate.exec.base import Executor, Progress, TaskFn
from provenance.outdir import OutDir, read_marker

WORK = "dedup"  # work folder of the stage: one sub-folder per step
AGAINST = "against"  # work folder of the earlier corpora's prepared keys and signatures
TASK_BASELINE_MB = 256  # a dedup task's RSS before its data (Python, numpy, pyarrow): measured ~180 MiB


@dataclass(frozen=True)
class DedupRun:
    """What the stage needs of the run (the runner makes it from the run context)."""

    out: OutDir
    run_id: str
    executor: Executor
    parts: int  # this run's input files
    task_memory_mb: int
    partitions: int  # 0: sized from task_memory_mb
    url: bool
    exact: bool
    near: NearDedupConfig | None  # None: near dedup off
    earlier: tuple[EarlierPart, ...] = ()
    progress: bool = False


@dataclass
class DedupResult:
    """What the stage leaves: every step's decision files, in step order, and per-wave statistics."""

    decisions: list[FileSet] = field(default_factory=list)
    waves: dict[str, dict[str, Any]] = field(default_factory=dict)
    earlier_documents: int = 0
    earlier: dict[str, dict[str, Any]] = field(default_factory=dict)  # per earlier corpus: what was read


def _done(task: Any) -> bool:
    return read_marker(task.marker, task.key) is not None


def wave(ctx: DedupRun, name: str, fn: TaskFn, tasks: Sequence[Any], result: DedupResult,
         cost: Callable[[Any], int] | None = None) -> list[dict[str, Any]]:
    """Run one wave of tasks through the run's executor (finished ones skipped); their markers' results."""
    budget = ctx.task_memory_mb << 20
    start = time.monotonic()
    with Progress(name, len(tasks), ctx.progress) as bar:
        for finished, _ in enumerate(ctx.executor.map(fn, tasks, is_done=_done, cost=cost,
                                                             memory=lambda t: budget, progress=bar), 1):
            faults.wave_finished(name, finished)
    results = [read_marker(t.marker, t.key) or {} for t in tasks]
    peak = max((r.get("peak_rss_mb", 0.0) for r in results), default=0.0)
    result.waves[name] = {"tasks": len(tasks), "max_task_peak_rss_mb": peak,
                          "seconds": round(time.monotonic() - start, 1),
                          "task_cpu_s": round(sum(r.get("cpu_s", 0.0) for r in results), 1)}
    return results


def partitions(ctx: DedupRun, rows: int, row_bytes: int) -> int:
    """Reduce partitions for `rows` rows of `row_bytes` each: `dedup_partitions`, or from the budget."""
    if ctx.partitions:
        return ctx.partitions
    return partitions_for(rows, row_bytes, (ctx.task_memory_mb - TASK_BASELINE_MB) << 20)


def _files(ctx: DedupRun, step: str, prefix: str, start: int, stop: int, suffix: str = SUFFIX) -> FileSet:
    """The numbered files of one kind of task of a step, e.g. `_work/dedup/exact/map-00003.parts`."""
    folder = str(ctx.out.work(f"{WORK}/{step}")).replace("{", "{{").replace("}", "}}")
    return FileSet(f"{folder}/{prefix}-{{:05d}}{suffix}", start, stop)


def _marker(ctx: DedupRun, step: str, stem: str) -> str:
    return str(ctx.out.marker(f"{WORK}/{step}", stem))


def keyed_step(ctx: DedupRun, step: KeyedStep, sources: list[Source], removed: list[FileSet],
               smap: SourceMap, rows: int, result: DedupResult) -> FileSet:
    """One keyed step: a map task per source, a reduce task per partition; returns its decision files."""
    n = partitions(ctx, rows, step.row_bytes)
    key = {"run_id": ctx.run_id, "partitions": n}
    inputs = _files(ctx, step.name, "map", sources[0].index, sources[-1].index + 1)
    maps = [MapTask(step, s, tuple(removed), n, inputs.template.format(s.index),
                    _marker(ctx, step.name, f"map-{s.index:05d}"), key) for s in sources]
    wave(ctx, f"{step.name}-map", map_keys, maps, result)
    outputs = _files(ctx, step.name, "reduce", 0, n)
    reduces = [ReduceTask(step, p, inputs, ctx.parts, smap, outputs.template.format(p),
                          _marker(ctx, step.name, f"reduce-{p:05d}"), key) for p in range(n)]
    wave(ctx, f"{step.name}-reduce", reduce_keys, reduces, result)
    result.waves[f"{step.name}-reduce"]["partitions"] = n
    return outputs


def near_step(ctx: DedupRun, sources: list[Source], removed: list[FileSet], smap: SourceMap, rows: int,
              result: DedupResult) -> FileSet:
    """MinHash LSH: a band map per signature file, a bucket reduce per partition, one components task."""
    cfg = ctx.near
    assert cfg is not None
    n = partitions(ctx, rows * cfg.bands, band_row_bytes(cfg))
    key = {"run_id": ctx.run_id, "partitions": n}
    inputs = _files(ctx, "near", "map", sources[0].index, sources[-1].index + 1)
    maps = [BandTask(s, tuple(removed), cfg, n, inputs.template.format(s.index),
                     _marker(ctx, "near", f"map-{s.index:05d}"), key) for s in sources]
    wave(ctx, "near-map", band_rows, maps, result)
    edges = _files(ctx, "near", "reduce", 0, n, ".arrow")
    reduces = [BucketTask(p, inputs, cfg, edges.template.format(p),
                          _marker(ctx, "near", f"reduce-{p:05d}"), key) for p in range(n)]
    wave(ctx, "near-reduce", bucket_edges, reduces, result)
    result.waves["near-reduce"]["partitions"] = n
    outputs = _files(ctx, "near", "components", 0, 1)
    task = ComponentsTask(edges, tuple(s.signatures for s in sources), smap, ctx.parts, cfg,
                          outputs.template.format(0), str(ctx.out.work_file(f"{WORK}/near", "clusters")),
                          _marker(ctx, "near", "components"), key)
    wave(ctx, "near-components", components, [task], result)
    return outputs


def prepare_earlier(ctx: DedupRun, parts: list[EarlierPart], result: DedupResult) -> list[Source]:
    """The earlier corpora's parts as sources (indices 0..E-1), their keys prepared by one task each."""
    near = ctx.near
    folder = f"{WORK}/{AGAINST}"
    tasks = []
    for i, part in enumerate(parts):
        key = {"run_id": ctx.run_id, "documents": part.documents}
        tasks.append(PrepareTask(part, near, str(ctx.out.work_file(folder, f"keys-{i:05d}")),
                                 str(ctx.out.work_file(folder, f"signatures-{i:05d}")),
                                 _marker(ctx, AGAINST, f"{i:05d}"), key))
    results = wave(ctx, AGAINST, prepare_part, tasks, result) if tasks else []
    result.earlier_documents = sum(r.get("documents", 0) for r in results)
    for t, r in zip(tasks, results, strict=True):
        corpus = result.earlier.setdefault(t.part.corpus, {"path": t.part.corpus, "run_id": t.part.run_id})
        for k in ("documents", "hashes_reused", "signatures_reused"):
            corpus[k] = corpus.get(k, 0) + r.get(k, 0)
    return [Source(i, t.keys_out, t.signatures_out if near else None, corpus=t.part.run_id)
            for i, t in enumerate(tasks)]


def run_dedup(ctx: DedupRun, current: list[tuple[str, str | None]], records: int,
              candidates: int, prior: Sequence[FileSet] = ()) -> DedupResult:
    """Every dedup step over the run's parts (`current`: each part's rows and signature file, in input
    order; `records` / `candidates`: their totals); returns the decision files for finalize. `prior`:
    decisions of an earlier global stage (keep_top_fraction), applied after the repeated record ids
    (every row stays addressable) and removing their rows from the dedup steps' candidates."""
    result = DedupResult()
    earlier = prepare_earlier(ctx, list(ctx.earlier), result)
    mine = [Source(len(earlier) + i, keys, sigs, part=i) for i, (keys, sigs) in enumerate(current)]
    everything = earlier + mine
    smap = SourceMap.of(everything)
    if not mine:
        return result
    steps = result.decisions
    steps.append(keyed_step(ctx, RepeatedIds(), mine, steps, smap, records, result))
    steps.extend(prior)
    if ctx.url:
        steps.append(keyed_step(ctx, UrlDuplicates(), mine, steps, smap, candidates, result))
    if ctx.exact:
        steps.append(keyed_step(ctx, ExactDuplicates(), everything, steps, smap,
                                candidates + result.earlier_documents, result))
    if ctx.near is not None:
        steps.append(near_step(ctx, everything, steps, smap, candidates + result.earlier_documents, result))
    return result
