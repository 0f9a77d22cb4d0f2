"""README.md's Quickstart, run as written: each `assay` command of its bash block, in order.

The commands are read from README.md (so the two cannot drift) and run through bash from a working
directory laid out like a checkout (`../shared/data` and `examples/` resolve; `out/` is created there).
Step 1 is conftest's session fixture `quickstart_dir`, shared with the golden test (tests/test_golden.py
checks its digest); the rest run here, each checked for what it must have written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import quickstart_commands, run_shell


def test_quickstart_block_is_the_documented_loop() -> None:
    commands = quickstart_commands()
    verbs = [c.split()[1] for c in commands]
    assert verbs == ["curate", "trace", "train", "train", "synth", "synth", "disclose"]
    assert commands[0].startswith("assay curate ../shared/data/warc/*.warc.gz -o out/corpus")


def _run(command: str, cwd: Path, codes: tuple[int, ...] = (0,)) -> str:
    r = run_shell(command, cwd)
    assert r.returncode in codes, f"{command} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_quickstart_runs_as_written(quickstart_dir: Path) -> None:
    work, out = quickstart_dir, quickstart_dir / "out"
    curate_, trace, train_run, export, generate, validate, disclose = quickstart_commands()
    manifest = json.loads((out / "corpus" / "run.json").read_text())
    assert manifest["counts"]["kept"] > 100 and (out / "corpus" / "report.html").is_file()

    traced = json.loads(_run(trace, work))
    assert traced["doc_id"] and traced["provenance"], traced  # token row -> document -> WARC record

    _run(train_run, work)
    assert json.loads((out / "run" / "run.json").read_text())["status"] == "complete"
    _run(export, work)
    assert (out / "hf" / "config.json").is_file() and (out / "hf" / "model.safetensors").is_file()

    printed = _run(generate, work)
    synth = json.loads((out / "synth" / "run.json").read_text())
    fit = synth["fit"]  # the tiny model's 128-token context: max_tokens 256 clamped, long prompts cut
    assert fit["max_model_len"] == 128 and fit["max_tokens_requested"] == 256 and fit["max_tokens"] == 64
    assert fit["max_prompt_tokens"] == 63 and fit["prompts_cut"] >= 1
    counts = synth["counts"]  # one request per seed document (the first 256 kept); a tiny model may answer
    seeds = min(256, manifest["counts"]["kept"])  # a few with EOS at once
    assert counts["seeds"] == seeds == counts["kept"] + counts["error"], printed
    assert counts["kept"] >= 0.95 * counts["seeds"], printed
    assert set(counts["error_reasons"]) <= {"empty generation"}, printed

    r = run_shell(validate, work)  # gates may pass or fail on a tiny model; either way one line says so
    assert r.returncode in (0, 1), r.stderr[-3000:]
    [line] = r.stdout.strip().splitlines()
    verdict = json.loads((out / "synth" / "run.json").read_text())["gates"]["overall"]
    assert line.startswith(f"gates: {verdict}") and r.returncode == (0 if verdict == "pass" else 1)

    _run(disclose, work)
    disclosure = json.loads((out / "disclosure" / "ab2013.json").read_text())
    assert disclosure and (out / "disclosure" / "ab2013.md").is_file()
