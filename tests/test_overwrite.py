"""Never delete what assay did not write (issue 14): `--overwrite` removes only the files an earlier assay
run listed, a non-empty directory that holds no assay run is refused, and run.json lists only this run's
outputs. The user's own files (`documents/letter.docx`) survive every case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, warc
from curate import InputError, curate, load_config
from provenance.outdir import OutDir, claim, write_json

SRC = "wget-crawl-2024-b.warc.gz"


def listed(out: Path) -> set[str]:
    return {e["path"] for e in json.loads((out / "run.json").read_text())["outputs"]}


def user_files(out: Path) -> dict[str, bytes]:
    files = {"notes.txt": b"mine", "documents/letter.docx": b"PK\x03\x04 my letter", "tokens/README": b"x"}
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return files


def assert_untouched(out: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        assert (out / name).read_bytes() == data, name
    assert not set(files) & listed(out)


def test_a_non_empty_directory_that_is_not_an_assay_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    files = user_files(out)
    r = subprocess.run([sys.executable, "-m", "assay", "curate", str(warc("cc-single-record.warc.gz")),
                        "-o", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "not an assay output directory" in r.stderr, r.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(files)


def test_overwrite_removes_only_what_the_earlier_run_listed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = user_files(out)
    tokenized = load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 300,
                                       "near_dedup.enabled": False})
    with pytest.raises(InputError, match="not an assay output directory"):
        curate([str(warc(SRC))], out, tokenized)
    curate([str(warc(SRC))], out, tokenized, overwrite=True)  # beside the user's files, none listed
    assert_untouched(out, files)
    first = listed(out)
    assert "tokenizer.json" in first and any(p.startswith("tokens/shard-") for p in first)

    plain = load_config(overrides={"near_dedup.enabled": False})  # another run: no tokenize
    with pytest.raises(InputError, match="holds curate run"):
        curate([str(warc(SRC))], out, plain)
    curate([str(warc(SRC))], out, plain, overwrite=True)
    assert_untouched(out, files)
    second = listed(out)
    assert not (out / "tokenizer.json").exists() and not list((out / "tokens").glob("shard-*"))
    assert second == {p for p in first if not p.startswith("tokens/") and p != "tokenizer.json"}


def test_an_unfinished_runs_parts_are_removed_and_nothing_else(tmp_path: Path) -> None:
    out = OutDir(tmp_path / "out")
    claim(out.root, "run-a", "curate")  # run-a was killed after writing two parts, before run.json
    for sub in ("documents", "provenance"):
        write_json(out.part(sub, "part-00000"), {})
    (out.root / "documents" / "keep.parquet").write_bytes(b"the user's")
    with pytest.raises(InputError, match="holds curate run run-a"):
        claim(out.root, "run-b", "curate")
    claim(out.root, "run-b", "curate", overwrite=True)
    assert sorted(p.relative_to(out.root).as_posix() for p in out.root.rglob("*") if p.is_file()) == [
        "_work/state.json", "documents/keep.parquet"]
    assert json.loads((out.root / "_work" / "state.json").read_text())["run_id"] == "run-b"


def test_demo_refuses_a_directory_it_did_not_make_and_clears_only_its_stages(tmp_path: Path) -> None:
    from assay.demo import STAGE_DIRS, prepare_out

    mine = tmp_path / "mine"
    (mine / "train").mkdir(parents=True)
    (mine / "train" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an `assay demo` output"):
        prepare_out(mine)
    assert (mine / "train" / "notes.txt").read_text() == "mine"

    demo = tmp_path / "demo"
    prepare_out(demo)  # a new directory: the demo's
    for name in STAGE_DIRS:
        (demo / name).mkdir()
        (demo / name / "run.json").write_text("{}")
    (demo / "my-notes.txt").write_text("mine")
    prepare_out(demo)  # a rerun: the stage directories go, the user's file stays
    assert not any((demo / n).exists() for n in STAGE_DIRS)
    assert (demo / "my-notes.txt").read_text() == "mine"
    record = json.loads((demo / "demo.json").read_text())
    record["stages"] = ["corpus"]  # an older demo made only corpus/: train/ is someone else's
    (demo / "demo.json").write_text(json.dumps(record))
    (demo / "train").mkdir()
    with pytest.raises(InputError, match="train: not made by `assay demo`"):
        prepare_out(demo)
