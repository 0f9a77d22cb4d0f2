"""Errors meant for the user reach them as one line on stderr and exit code 2, from every package.

Each case runs the real CLI (`python -m assay`, the same `main` the console script calls). The
commands raise `provenance.errors.UserError` subclasses; `assay.cli.Commands.invoke` is the one
place that turns them into `error: <one line>`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


def assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def one_line_error(r: subprocess.CompletedProcess, *fragments: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for f in fragments:
        assert f in line, (f, line)
    return line


@pytest.fixture
def empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_train_errors(tmp_path, empty):
    run = str(tmp_path / "r")
    one_line_error(assay("train", "run", "--preset", "huge", "-o", run), "unknown preset 'huge'")
    bad = tmp_path / "train.toml"
    bad.write_text('preset = "tiny"\nsteps = -3\n')
    one_line_error(assay("train", "run", "--config", str(bad), "-o", run), "steps")
    one_line_error(assay("train", "run", "--preset", "tiny", "--data", f"web={empty}", "-o", run),
                   str(empty))  # not a tokenized corpus
    one_line_error(assay("train", "export", str(empty), "-o", str(tmp_path / "hf")), "no checkpoint found")


def test_synth_errors(tmp_path, empty):
    inputs = ["--model", str(empty), "--seeds", str(empty), "-o", str(tmp_path / "s")]
    one_line_error(assay("synth", "generate", *inputs, "--task", "nosuch"), "no task template 'nosuch'")
    one_line_error(assay("synth", "generate", *inputs), "no model.safetensors")
    gates = tmp_path / "gates.toml"
    gates.write_text('[[gates]]\nmetric = "distinct_2"\nkind = "at_least"\nvalue = 0.8\n')
    validate = ["synth", "validate", str(empty), "--reference", str(empty), "-o", str(tmp_path / "rep")]
    one_line_error(assay(*validate, "--config", str(gates)), "gates.toml: gates.0.kind")
    one_line_error(assay(*validate), "no documents/*.parquet")
    one_line_error(assay("synth", "collapse", "--corpus", str(empty), "-o", str(tmp_path / "c")),
                   "no tokenizer.json")


def test_provenance_errors(tmp_path, empty):
    one_line_error(assay("lineage", str(empty)), "no run.json")
    one_line_error(assay("disclose", str(empty), "-o", str(tmp_path / "d")), "no run manifest")
    (empty / "run.json").write_text("{not json")
    one_line_error(assay("disclose", str(empty), "-o", str(tmp_path / "d")), "run.json: not valid JSON")
    decl = tmp_path / "decl.toml"
    decl.write_text("[colection]\nongoing = true\n")
    one_line_error(assay("disclose", str(empty), "-o", str(tmp_path / "d"), "--declarations", str(decl)),
                   "decl.toml: colection: unknown key")


def test_argument_checks_still_fail_before_running(tmp_path, empty):
    inputs = ["--model", str(empty), "--seeds", str(empty), "-o", str(tmp_path / "s")]
    one_line_error(assay("synth", "generate", *inputs, "--max-tokens", "0"),
                   "--max-tokens must be at least 1")
    one_line_error(assay("demo", "--warc", str(tmp_path / "nope.warc.gz"), "-o", str(tmp_path / "o")),
                   "no such WARC file")
