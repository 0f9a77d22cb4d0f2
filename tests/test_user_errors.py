"""Smaller promises (issue 14): a stray run.json beside a corpus, `-o` naming a file, a file name that
tries to write Markdown, and one input named three ways."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, warc
from curate import curate, expand_inputs, load_config


def assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assay", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ROOT/web: a small tokenized corpus; ROOT/junk/run.json: valid JSON that is not a manifest; and an
    input whose file name holds a newline, a heading and a javascript: link."""
    root = tmp_path_factory.mktemp("user-errors")
    evil = root / "crawl\n# Owned [click](javascript:alert(1)) `x`.warc.gz"
    shutil.copyfile(warc("wget-crawl-2024-b.warc.gz"), evil)
    cfg = load_config(overrides={"tokenize.enabled": True, "tokenize.vocab_size": 400,
                                 "near_dedup.enabled": False})
    curate([str(evil)], root / "web", cfg)
    (root / "junk").mkdir()
    (root / "junk" / "run.json").write_text("[1, 2, 3]\n")
    return root


def test_a_sibling_run_json_that_is_not_an_object_is_skipped(root: Path) -> None:
    r = assay("lineage", str(root / "web"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    r = assay("takedown", str(root / "web"), "-o", str(root / "web-v2"), "--domain", "creativecommons.org")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert json.loads((root / "web-v2" / "run.json").read_text())["kind"] == "takedown"


@pytest.mark.parametrize("command", ["disclose", "validate", "takedown", "curate"])
def test_o_naming_a_file_is_one_line(root: Path, command: str) -> None:
    target = root / "a-file"
    target.write_text("mine")
    web = str(root / "web")
    args = {"disclose": ["disclose", web], "validate": ["synth", "validate", web, "--reference", web],
            "takedown": ["takedown", web, "--domain", "example.com"],
            "curate": ["curate", str(warc("cc-single-record.warc.gz"))]}[command]
    r = assay(*args, "-o", str(target))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"error: {target}: exists and is not a directory")
    assert target.read_text() == "mine"


def test_a_file_name_cannot_write_markdown_into_the_disclosure(root: Path) -> None:
    from provenance.disclosure import write_disclosure

    paths = write_disclosure([root / "web"], root / "disclosure")
    from markdown_it import MarkdownIt

    md = Path(paths["ab2013.md"]).read_text()
    html = MarkdownIt().render(md)  # as a Markdown renderer shows it: the name must stay inert text
    assert not any(line.startswith("# Owned") for line in md.splitlines())
    assert "<h1>Owned" not in html and "<a " not in html  # no heading, no link
    assert "Owned" in html  # the name is still there, as inert text


def test_one_input_named_three_ways_is_one_source_file(tmp_path: Path) -> None:
    real = warc("cc-single-record.warc.gz")
    (tmp_path / "link.warc.gz").symlink_to(real)
    (tmp_path / "dir").symlink_to(real.parent, target_is_directory=True)
    spellings = [str(tmp_path / "link.warc.gz"), str(tmp_path / "link*.warc.gz"),
                 f"file://{tmp_path}/link.warc.gz", f"file://{tmp_path}/li*.warc.gz",
                 str(tmp_path / "dir" / real.name)]
    assert {tuple(expand_inputs([s])) for s in spellings} == {(str(real.resolve()),)}
