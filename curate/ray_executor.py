"""The `ray` executor: the same per-file tasks as `local`, one Ray task per WARC file.

Each task runs `curate.pipeline.process_file`, which writes its part files and its
`.done` marker last (atomically), so a rerun after a failed cluster job, a killed
worker or a killed driver skips finished files and ends with the same output.
Tasks declare CPU and memory, and Ray retries them when their worker dies.

Data never travels through the driver: workers read the WARCs (local paths or fsspec
URLs) and write Parquet into the output directory; the driver only sees small count
dicts. On a multi-node cluster the output directory must be a filesystem every node
mounts (see docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.config import CurateConfig
    from curate.pipeline import FileTask

# Retries when a worker process or node dies (Ray's own default for tasks is 3).
MAX_RETRIES = 3
# Exceptions worth a retry: object-store reads fail transiently (timeouts, throttling).
RETRY_EXCEPTIONS = [OSError, TimeoutError]
# Memory a file task declares: measured here, a worker holds ~120 MiB after loading lid.176 and
# the filters, and peaks at ~380 MiB on the 7.4 MB python-3.11-docs.warc.gz (about 35x the gzip
# size, the rows of extracted text); 512 MiB + 40x leaves headroom.
TASK_BASE_MEMORY = 512 << 20
TASK_MEMORY_PER_BYTE = 40
# Tasks in flight per cluster CPU: enough to keep every worker busy, few enough that the
# driver's bookkeeping stays small for crawls of 100k files.
IN_FLIGHT_PER_CPU = 2
POLL_S = 0.2


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the cluster at `address`, or start a local one with `num_cpus` CPUs.

    A Ray session already open in this process (tests, notebooks) is used as it is.
    """
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False)


def _largest_node_memory() -> int | None:
    import ray

    mems = [n["Resources"].get("memory", 0) for n in ray.nodes() if n.get("Alive")]
    return int(max(mems)) if mems else None


def task_memory(size: int, cap: int | None) -> int:
    """Memory (bytes) a task for a file of `size` bytes declares, capped so it stays schedulable."""
    want = TASK_BASE_MEMORY + TASK_MEMORY_PER_BYTE * size
    return min(want, int(cap * 0.9)) if cap else want


def _cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _progress_actor():  # noqa: ANN202 (a Ray actor handle)
    """A tiny actor that sums per-part (records, kept) increments for the driver's progress bar."""
    import ray

    @ray.remote(num_cpus=0)
    class Progress:
        def __init__(self) -> None:
            self.pending: dict[str, list[int]] = {}

        def add(self, part: str, records: int, kept: int) -> None:
            acc = self.pending.setdefault(part, [0, 0])
            acc[0] += records
            acc[1] += kept

        def drain(self) -> dict[str, list[int]]:
            out, self.pending = self.pending, {}
            return out

    return Progress.remote()


def _file_task(task: FileTask, cfg: CurateConfig, out_dir: str, run_id: str, reporter: Any) -> dict[str, int]:
    from curate.pipeline import process_file

    def report(records: int, kept: int) -> None:
        reporter.add.remote(task.part, records, kept)  # fire and forget

    return process_file(task, cfg, out_dir, run_id, report if reporter is not None else None)


def run_ray(tasks: list[FileTask], cfg: CurateConfig, out_dir: str, run_id: str, show_progress: bool) -> None:
    """Run every unfinished file task on Ray; same outputs and markers as `run_local`."""
    import ray

    from curate.executor import RecordProgress
    from curate.pipeline import marker_path

    ensure_ray(cfg.ray_address, None if cfg.ray_address else cfg.workers)
    todo = [t for t in tasks if not marker_path(Path(out_dir), "extract", t.part).exists()]
    todo.sort(key=lambda t: (-t.size, t.index))  # largest first: the long tail finishes sooner
    remote = ray.remote(_file_task)
    cap = _largest_node_memory()
    window = IN_FLIGHT_PER_CPU * _cluster_cpus()

    with RecordProgress(len(tasks), show_progress) as prog:
        for _ in range(len(tasks) - len(todo)):
            prog.file_done()
        reporter = _progress_actor() if show_progress and todo else None
        shown: dict[str, list[int]] = {}  # per part: what the bar has counted so far

        def count(part: str, records: int, kept: int) -> None:
            acc = shown.setdefault(part, [0, 0])
            acc[0] += records
            acc[1] += kept
            prog.add(records, kept)

        queue = list(reversed(todo))
        running: dict[Any, FileTask] = {}
        while queue or running:
            while queue and len(running) < window:
                t = queue.pop()
                ref = remote.options(
                    name=f"curate:{t.part}", num_cpus=1, memory=task_memory(t.size, cap),
                    max_retries=MAX_RETRIES, retry_exceptions=RETRY_EXCEPTIONS,
                ).remote(t, cfg, out_dir, run_id, reporter)
                running[ref] = t
            done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            if reporter is not None:
                for part, (records, kept) in ray.get(reporter.drain.remote()).items():
                    count(part, records, kept)
            for ref in done:
                t = running.pop(ref)
                counts = ray.get(ref)  # raises once retries are spent: the run stops, a rerun resumes
                # A retried task may have reported records twice: settle the bar on the final counts.
                seen = shown.get(t.part, [0, 0])
                count(t.part, counts["records"] - seen[0], counts["candidates"] - seen[1])
                prog.file_done()
        if reporter is not None:
            ray.kill(reporter)


# ---------------------------------------------------------------------------------------------
# Tokenize: one Ray task per documents part


def _encode_task(part: str, out_dir: str, tokenizer_path: str, marker: dict[str, Any], rows: list[int]) -> dict:
    from curate.tokenize import encode_part

    return encode_part(part, out_dir, tokenizer_path, marker, rows)


def tokenize_parts_ray(
    jobs: list[tuple[str, dict[str, Any], list[int]]], out_dir: str, tokenizer_path: str,
    address: str | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Encode `documents/<part>` files as Ray tasks; yield (part, done marker) as each finishes.

    Each task writes `_work/tokenize/<part>.arrow` and its marker itself, exactly as the
    local encoder does, so shards built from them are byte-identical.
    """
    import ray

    ensure_ray(address)
    remote = ray.remote(_encode_task)
    running = {
        remote.options(name=f"tokenize:{part}", num_cpus=1, max_retries=MAX_RETRIES,
                       retry_exceptions=RETRY_EXCEPTIONS).remote(part, out_dir, tokenizer_path, want, rows): part
        for part, want, rows in jobs
    }
    while running:
        done, _ = ray.wait(list(running), num_returns=1)
        for ref in done:
            yield running.pop(ref), ray.get(ref)

