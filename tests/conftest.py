"""Shared fixtures. Real data lives in ../shared/data (read-only); tests fail, not skip, under CI=true
when it is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A closed vLLM engine's worker processes (vLLM's own layout: GPUs, CPU machines of more than 4 CPUs;
# synth/generate.py runs the engine in-process on smaller ones) do not exit on their own: vLLM waits
# this many seconds before it terminates them (default 5). Inherited by the CLI subprocesses.
os.environ.setdefault("VLLM_WORKER_SHUTDOWN_TIMEOUT_SECONDS", "1")
SHARED_DATA = Path(os.environ.get("ASSAY_SHARED_DATA", REPO.parent / "shared" / "data"))
WARC_DIR = SHARED_DATA / "warc"


def _require(path: Path) -> Path:
    if not path.exists():
        msg = f"real test data missing: {path} (expected ../shared/data beside the checkout)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def warc_dir() -> Path:
    return _require(WARC_DIR)


def warc(name: str) -> Path:
    """Path of a real WARC file in ../shared/data/warc (fails under CI when missing)."""
    return _require(WARC_DIR / name)


# --- README.md's Quickstart, run as written (tests/test_quickstart.py; its step 1 is also the golden run) --

QUICKSTART_TIMEOUT_S = 1800  # one command at most (the curate of every real WARC, on a busy 2-core box)


def quickstart_commands() -> list[str]:
    """The `assay` commands of README.md's Quickstart block, in order, as written (comments dropped)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [c for c in commands if c.startswith("assay ")]


def run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command line as a user types it (bash expands the globs), with this checkout's `assay` first."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=QUICKSTART_TIMEOUT_S, check=False)


@pytest.fixture(scope="session")
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory laid out like a checkout (`../shared/data` and `examples/` resolve) in which
    the Quickstart's first command (curate every real WARC, 2 workers, tokenized) has run."""
    _require(WARC_DIR)
    root = tmp_path_factory.mktemp("quickstart")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(SHARED_DATA)
    work = root / "assay"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    step1 = quickstart_commands()[0]
    r = run_shell(step1, work)
    assert r.returncode == 0, f"{step1}\n{r.stderr[-3000:]}"
    return work
