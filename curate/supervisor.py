"""The per-record time limit, in C code too: the chain runs in a worker process that is killed at the limit.

A limit inside the process cannot hold: lxml's parser is C code that a signal cannot interrupt, and
trafilatura catches the exception a SIGALRM handler raises, parses again and returns. So a file task
hands its records to a `RecordWorker`: a child process (spawned once per task process and kept across
records and tasks) that runs the decision chain (`curate.record_checks`) and publishes, in shared
memory, which check of which record it is in and when that check started. Records go a few ahead
(`AHEAD`, through a sender thread, so a full pipe never blocks the supervision): while the worker runs
the chain on one, the task process reads the next ones from the WARC and writes the rows before it.
The task process waits for each row in order; when one check has used `extract.timeout_s` seconds of
the worker's CPU time, or the worker has sat `WALL_FACTOR` times that long using almost no CPU
(sleeping or blocked), it kills the worker, writes the record's row as `error` with reason
`timeout:<check>`, starts a new worker and sends it the records queued behind that one. A worker that
dies on a record gives `crashed:<check>`.

CPU time, not wall time, is the limit's clock so that the same input and config give the same output on
a busy machine (a page that needs 8.5 s of CPU may take 30 s of wall time when four processes share two
cores). It is read from /proc/<pid>/stat (utime + stime, Linux); where there is no /proc, from psutil.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from curate import faults
from curate.config import CurateConfig
from curate.read.inputs import InputFile
from curate.read.warc import WarcRecord
from curate.record_checks import CHECK_NAMES, Chain, error_row

WALL_FACTOR = 6  # wall-clock backstop = 6 x the CPU limit (6 min by default) of idle wall time
# A worker counts as idle (sleeping, blocked) while it gets under 1% of a core: a starved one on a busy
# machine gets far more (two cores at load 12: ~16%), so the backstop does not fire on load alone.
IDLE_SHARE = 0.01
AHEAD = 3  # records in flight to a worker: the one it runs and two queued (its next input never waits)
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


def _serve(records: Any, rows: Any, status: Any, cfg_json: str, index_folder: Path | None) -> None:
    """The worker: a row on `rows` for each record read from `records`, until that pipe closes."""
    seq = 0
    injecting = faults.enabled()  # this process's environment is its spawner's, fixed from now on

    def on_step(check: int, record_index: int) -> None:
        status[CHECK], status[CPU_START] = check, time.process_time()
        status[SEQ] = seq
        if injecting:  # (os.environ.get: 1.2 us, at each of the ~16 checks of every record)
            faults.in_step(CHECK_NAMES[check], record_index)

    chain = Chain(CurateConfig.model_validate_json(cfg_json), index_folder=index_folder)
    chain.process(*_WARM_UP)  # lazy imports (trafilatura, phonenumbers' tables) before any clock runs
    chain.on_step = on_step
    rows.send("ready")
    while True:
        try:
            file, rec, run_id = records.recv()
        except EOFError:
            return
        seq += 1
        rows.send(chain.process(file, rec, run_id))


def _send_all(outbox: queue.SimpleQueue, conn: Any) -> None:
    """A worker's sender thread: the records of `outbox` down the worker's pipe, until None. A send
    blocks while the pipe is full (the worker busy on an earlier record); in this thread, that never
    holds up the supervision. A pipe the worker's death broke ends the thread: its records are resent
    to the next worker."""
    try:
        while (msg := outbox.get()) is not None:
            conn.send(msg)
    except OSError:  # BrokenPipeError: the worker died or was killed
        pass
    finally:
        conn.close()  # a live worker reads EOF and ends


class RecordWorker:
    """A task process's handle on its record worker: `rows(file, records, run_id)` gives each record's row,
    in order, within the limit; `AHEAD` records are sent ahead, so that while the worker runs the chain
    on one record this process reads the next ones and writes the rows before them."""

    def __init__(self, cfg: CurateConfig, index_folder: Path | None = None) -> None:
        self.cfg = cfg
        self.index_folder = index_folder  # the run's decontamination index (`_work/`), memory-mapped there
        self.limit = cfg.extract.timeout_s
        self.backstop = WALL_FACTOR * self.limit
        self._ctx = mp.get_context("spawn")  # fork beside polars' / tokenizers' threads can deadlock
        self._proc: Any = None
        self._seq = 0  # records sent to the running worker
        self.restarts = 0  # workers killed or lost (tests and benchmarks read it)

    def _start(self) -> None:
        self._status = self._ctx.Array("d", 3, lock=False)
        records_in, records_out = self._ctx.Pipe(duplex=False)
        self._rows, rows_out = self._ctx.Pipe(duplex=False)
        args = (records_in, rows_out, self._status, self.cfg.model_dump_json(), self.index_folder)
        self._proc = self._ctx.Process(target=_serve, args=args, daemon=True, name="assay-record-worker")
        self._proc.start()
        records_in.close()
        rows_out.close()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=_send_all, args=(self._outbox, records_out), daemon=True,
                                        name="assay-record-sender")
        self._sender.start()
        self._seq = 0
        try:
            ready = self._rows.recv()
        except EOFError:
            ready = None
        if ready != "ready":  # the worker could not even start (a bug)
            raise RuntimeError("record worker did not start")

    @property
    def pid(self) -> int:
        """The worker process's id (started here when it is not running), for memory accounting."""
        self._ensure_running()
        return self._proc.pid

    def _ensure_running(self) -> None:
        if self._proc is not None and not self._proc.is_alive():  # died between records (OOM killer...)
            self._kill()
        if self._proc is None:
            self._start()

    def _send(self, item: tuple[InputFile, WarcRecord, str]) -> int:
        """Queue a record for the running worker; its sequence number there."""
        self._seq += 1
        self._outbox.put(item)
        return self._seq

    def rows(self, file: InputFile, records: Iterable[WarcRecord], run_id: str) -> Iterator[dict[str, Any]]:
        """One row per record, in order. A record that the worker does not finish within the limit (or
        dies on) gets an error row; the worker is replaced and the records sent after it are sent again."""
        pending: deque[tuple[int, WarcRecord]] = deque()  # (sequence number, record): sent, row not read
        records = iter(records)
        try:
            while True:
                for rec in itertools.islice(records, AHEAD - len(pending)):
                    if not pending:  # a worker that died with records in flight fails the first of them
                        self._ensure_running()
                    pending.append((self._send((file, rec, run_id)), rec))
                if not pending:
                    return
                seq, rec = pending.popleft()
                stop = self._wait(seq)
                row = self._recv() if stop is None else None
                if row is None:  # the worker was stopped or died on this record: an error row, a new worker
                    check = self._check(seq)
                    row = error_row(file, rec, run_id, check, f"{stop or 'crashed'}:{check}")
                    self._kill()
                    if pending:
                        self._start()
                        pending = deque((self._send((file, r, run_id)), r) for _, r in pending)
                yield row
        finally:
            if pending and self._proc is not None:  # the caller stopped early: rows still on their way
                self._kill()  # must not reach its next task

    def process(self, file: InputFile, rec: WarcRecord, run_id: str) -> dict[str, Any]:
        """The row of one record."""
        (row,) = self.rows(file, [rec], run_id)
        return row

    def _recv(self) -> dict[str, Any] | None:
        try:
            return self._rows.recv()
        except EOFError:  # it died as it was about to send the row
            return None

    def _wait(self, seq: int) -> str | None:
        """None when a row (or EOF) is ready; "timeout" when the running check of record `seq` has used
        `limit` seconds of the worker's CPU time, or the worker has sat `backstop` seconds of wall time
        using (almost) no CPU: sleeping or blocked, not merely starved on a busy machine."""
        wait, idle, last = self.limit, 0.0, None
        while not self._rows.poll(wait):
            if not self._proc.is_alive():
                return "crashed"
            now, total = time.monotonic(), cpu_seconds(self._proc.pid)
            if last is not None and total - last[1] < IDLE_SHARE * (now - last[0]):
                idle += now - last[0]
            last = (now, total)
            cpu = total - self._status[CPU_START] if self._status[SEQ] == seq else 0.0
            if cpu >= self.limit or idle >= self.backstop:
                return "timeout"
            wait = max(self.limit - cpu, MIN_WAIT_S)
        return None

    def _check(self, seq: int) -> str:
        started = self._status[SEQ] == seq
        return CHECK_NAMES[int(self._status[CHECK])] if started else "start"

    def _kill(self) -> None:
        self.restarts += 1
        self._proc.kill()
        self._proc.join()
        self._stop_sender()
        self._rows.close()
        self._proc = None

    def _stop_sender(self) -> None:
        """End the sender thread (its pipe is broken when the worker is dead: a blocked send returns)."""
        self._outbox.put(None)
        self._sender.join()

    def close(self) -> None:
        """Stop the worker (closing its record pipe ends its loop)."""
        if self._proc is not None:
            self._stop_sender()  # the thread's end of the pipe closes with it
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._rows.close()
            self._proc = None


_WORKERS: dict[str, RecordWorker] = {}


def worker_for(cfg: CurateConfig, index_folder: Path | None = None) -> RecordWorker:
    """This process's record worker for `cfg` (started on first use, kept for the next tasks, and for the
    next runs whose config differs only in how they execute: workers, executor, dedup partitions...)
    reading the run's n-gram index from `index_folder`."""
    key = f"{json.dumps(cfg.fingerprint_dict(), sort_keys=True)}\0{index_folder}"
    if key not in _WORKERS:
        close_workers()
        _WORKERS[key] = RecordWorker(cfg, index_folder)
    return _WORKERS[key]


def close_workers() -> None:
    """Stop this process's record workers (the next task starts a fresh one)."""
    for worker in _WORKERS.values():
        worker.close()
    _WORKERS.clear()
