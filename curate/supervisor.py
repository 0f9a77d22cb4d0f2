"""The per-record time limit, in C code too: the chain runs in a worker process that is killed at the limit.

A limit inside the process cannot hold: lxml's parser is C code that a signal cannot interrupt, and
trafilatura catches the exception a SIGALRM handler raises, parses again and returns. So a file task
hands its records, one at a time, to a `RecordWorker`: a child process (spawned once per task process
and kept across records and tasks) that runs the decision chain (`curate.record_checks`) and publishes,
in shared memory, which check of which record it is in and when that check started. The task process
waits for each row; when one check has used `extract.timeout_s` seconds of the worker's CPU time, or
the worker has sat `WALL_FACTOR` times that long using almost no CPU (sleeping or blocked), it kills the
worker, writes the record's row as `error` with reason `timeout:<check>`, and starts a new worker for
the next record. A worker that dies on a record gives `crashed:<check>`.

CPU time, not wall time, is the limit's clock so that the same input and config give the same output on
a busy machine (a page that needs 8.5 s of CPU may take 30 s of wall time when four processes share two
cores). It is read from /proc/<pid>/stat (utime + stime, Linux); where there is no /proc, from psutil.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

from curate import faults
from curate.config import CurateConfig
from curate.read.inputs import InputFile
from curate.read.warc import WarcRecord
from curate.record_checks import CHECK_NAMES, Chain, error_row

WALL_FACTOR = 6  # wall-clock backstop = 6 x the CPU limit (60 s by default) of idle wall time
# A worker counts as idle (sleeping, blocked) while it gets under 1% of a core: a starved one on a busy
# machine gets far more (two cores at load 12: ~16%), so the backstop does not fire on load alone.
IDLE_SHARE = 0.01
MIN_WAIT_S = 0.01  # shortest wait between two looks at a busy worker's CPU time
# Slots of the shared status array a worker publishes: the record sequence number it is on, the check
# (index in CHECKS) it is in, and that check's start in process CPU seconds.
SEQ, CHECK, CPU_START = range(3)
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat(5)
    except FileNotFoundError:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system


# A small page run through the chain once when a worker starts.
_WARM_UP = (InputFile(-1, "<warm-up>", "0" * 64, 0),
            WarcRecord(index=-1, offset=0, warc_type="response", url="https://warm-up.invalid/",
                       content_type="text/html; charset=utf-8", http_status=200,
                       payload=b"<html><body><article><p>A short page, read once so that every module the "
                               b"checks load lazily is loaded before a time limit applies. Mail "
                               b"someone@example.com or call +1 415 555 0100.</p></article></body></html>"),
            "warm-up")


def _serve(conn: Any, status: Any, cfg_json: str, index_folder: Path | None) -> None:
    """The worker: rows for the records it is sent, until its pipe closes."""
    seq = 0

    def on_step(check: int, record_index: int) -> None:
        status[CHECK], status[CPU_START] = check, time.process_time()
        status[SEQ] = seq
        faults.in_step(CHECK_NAMES[check], record_index)

    chain = Chain(CurateConfig.model_validate_json(cfg_json), index_folder=index_folder)
    chain.process(*_WARM_UP)  # lazy imports (trafilatura, phonenumbers' tables) before any clock runs
    chain.on_step = on_step
    conn.send("ready")
    while True:
        try:
            file, rec, run_id = conn.recv()
        except EOFError:
            return
        seq += 1
        conn.send(chain.process(file, rec, run_id))


class RecordWorker:
    """A task process's handle on its record worker: `process(file, rec, run_id) -> row`, within the limit."""

    def __init__(self, cfg: CurateConfig, index_folder: Path | None = None) -> None:
        self.cfg = cfg
        self.index_folder = index_folder  # the run's decontamination index (`_work/`), memory-mapped there
        self.limit = cfg.extract.timeout_s
        self.backstop = WALL_FACTOR * self.limit
        self._ctx = mp.get_context("spawn")  # fork beside polars' / tokenizers' threads can deadlock
        self._proc: Any = None
        self._seq = 0
        self.restarts = 0  # workers killed or lost (tests and benchmarks read it)

    def _start(self) -> None:
        self._status = self._ctx.Array("d", 3, lock=False)
        self._conn, child = self._ctx.Pipe()
        args = (child, self._status, self.cfg.model_dump_json(), self.index_folder)
        self._proc = self._ctx.Process(target=_serve, args=args, daemon=True, name="assay-record-worker")
        self._proc.start()
        child.close()
        self._seq = 0
        if self._conn.recv() != "ready":  # EOFError here: the worker could not even start (a bug)
            raise RuntimeError("record worker did not start")

    def process(self, file: InputFile, rec: WarcRecord, run_id: str) -> dict[str, Any]:
        if self._proc is not None and not self._proc.is_alive():  # died between records (OOM killer...)
            self._kill()
        if self._proc is None:
            self._start()
        self._seq += 1
        try:
            self._conn.send((file, rec, run_id))
            stop = self._wait()
        except (BrokenPipeError, ConnectionResetError):  # it died as the record went out
            stop = "crashed"
        if stop is None:
            try:
                return self._conn.recv()
            except EOFError:
                stop = "crashed"
        check = self._check()
        self._kill()
        return error_row(file, rec, run_id, check, f"{stop}:{check}")

    def _wait(self) -> str | None:
        """None when a row (or EOF) is ready; "timeout" when the running check has used `limit` seconds
        of the worker's CPU time, or the worker has sat `backstop` seconds of wall time using (almost)
        no CPU: sleeping or blocked, not merely starved on a busy machine."""
        wait, idle, last = self.limit, 0.0, None
        while not self._conn.poll(wait):
            if not self._proc.is_alive():
                return "crashed"
            now, total = time.monotonic(), cpu_seconds(self._proc.pid)
            if last is not None and total - last[1] < IDLE_SHARE * (now - last[0]):
                idle += now - last[0]
            last = (now, total)
            cpu = total - self._status[CPU_START] if self._status[SEQ] == self._seq else 0.0
            if cpu >= self.limit or idle >= self.backstop:
                return "timeout"
            wait = max(self.limit - cpu, MIN_WAIT_S)
        return None

    def _check(self) -> str:
        started = self._status[SEQ] == self._seq
        return CHECK_NAMES[int(self._status[CHECK])] if started else "start"

    def _kill(self) -> None:
        self.restarts += 1
        self._proc.kill()
        self._proc.join()
        self._conn.close()
        self._proc = None

    def close(self) -> None:
        """Stop the worker (closing its pipe ends its loop)."""
        if self._proc is not None:
            self._conn.close()
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._proc = None


_WORKERS: dict[str, RecordWorker] = {}


def worker_for(cfg: CurateConfig, index_folder: Path | None = None) -> RecordWorker:
    """This process's record worker for `cfg` (started on first use, kept for the next tasks)."""
    key = f"{cfg.model_dump_json()}\0{index_folder}"
    if key not in _WORKERS:
        close_workers()
        _WORKERS[key] = RecordWorker(cfg, index_folder)
    return _WORKERS[key]


def close_workers() -> None:
    """Stop this process's record workers (the next task starts a fresh one)."""
    for worker in _WORKERS.values():
        worker.close()
    _WORKERS.clear()
