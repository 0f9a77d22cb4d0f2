"""Recipes (`assay curate --recipe NAME`): presets laid under the config file and flags, recorded in
run.json / the report / AB 2013 item 9, and `fineweb` agreeing with datatrove page by page."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, warc
from curate import config_to_toml, load_config
from curate.recipes import recipe_names
from provenance.errors import ConfigError

REFERENCE = REPO / "tests" / "data" / "fineweb_datatrove_decisions.jsonl"
AGREEMENT_WARCS = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz",
                   "debian-multilingual-docs.warc.gz", "cc-2020-34-slice.warc.gz")


def assay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600)


def test_a_recipe_lies_under_the_config_file_and_the_flags(tmp_path):
    raw = load_config(recipe="raw")
    assert raw.recipe == "raw" and not raw.filters.c4.enabled and not raw.near_dedup.enabled
    assert raw.lid.threshold == 0.0
    conf = tmp_path / "c.toml"
    conf.write_text('recipe = "raw"\n[filters.c4]\nenabled = true\n')
    cfg = load_config(conf, overrides={"near_dedup.enabled": True})
    assert cfg.recipe == "raw" and cfg.filters.c4.enabled and cfg.near_dedup.enabled  # file, then flag win
    assert not cfg.filters.gopher_quality.enabled  # the rest stays the recipe's
    assert load_config(conf, recipe="fineweb").filters.gopher_quality.enabled  # --recipe beats the file's
    assert load_config().recipe == "assay" and load_config() == load_config(recipe="assay")


def test_print_config_shows_the_recipe_and_reloads_to_the_same_config(tmp_path):
    r = assay("curate", "--print-config", "--recipe", "fineweb")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('recipe = "fineweb"\n')
    assert r.stdout.split("\n# near_dedup")[0] + "\n" == config_to_toml(load_config(recipe="fineweb"))
    for name in recipe_names():
        if name == "dclm":
            continue  # needs a model path: tested below
        printed = tmp_path / f"{name}.toml"
        printed.write_text(config_to_toml(load_config(recipe=name)))
        assert load_config(printed) == load_config(recipe=name), name
    fw = load_config(recipe="fineweb")
    assert (fw.lid.languages, fw.filters.words) == (["en"], "spacy")
    assert not fw.filters.c4.filter_no_terminal_punct


def test_an_unknown_recipe_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    for args in (["--recipe", "finewbe"], ["-c", str(tmp_path / "r.toml")]):
        (tmp_path / "r.toml").write_text('recipe = "finewbe"\n')
        r = assay("curate", str(warc("cc-single-record.warc.gz")), "-o", str(out), *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        [line] = r.stderr.strip().splitlines()
        assert line.startswith("error: ") and "unknown recipe 'finewbe'" in line and "fineweb" in line
        assert not out.exists()
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_config(recipe="nope")
