"""Config validation (issue 14): values that used to be accepted and then gave wrong results, or crashed
late with a traceback, are one-line errors naming the file and the key, before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, warc
from curate import ConfigError, load_config

CASES = {  # name: (TOML, the key the error must name)
    "timeout-inf": ("[extract]\ntimeout_s = inf\n", "extract.timeout_s"),
    "timeout-huge": ("[extract]\ntimeout_s = 1e9\n", "extract.timeout_s"),
    "nan-threshold": ("[filters.gopher_quality]\nmin_alpha_words_ratio = nan\n",
                      "filters.gopher_quality.min_alpha_words_ratio"),
    "nan-lid": ("[lid]\nthreshold = nan\n", "lid.threshold"),
    "placeholder-key": ('[signals.placeholders]\nemal = "<E>"\n', "signals.placeholders"),
    "html-bytes": ("[extract]\nmax_html_bytes = 9223372036854775807\n", "extract.max_html_bytes"),
    "lid-model": ('[lid]\nmodel_path = "/nonexistent/lid.176.bin"\n', "lid.model_path"),
    "url-regex": ('[filters.url]\nregexes = ["(unclosed"]\n', "filters.url"),
    "blocklist": ('[filters.url]\nblocklist_file = "/nonexistent/block.txt"\n', "filters.url"),
    "tokenizer": ('[tokenize]\nenabled = true\ntokenizer = "/nonexistent/tokenizer.json"\n',
                  "tokenize.tokenizer"),
    "vocab": ("[tokenize]\nenabled = true\nvocab_size = 99999999999\n", "tokenize.vocab_size"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_values_are_config_errors_naming_file_and_key(tmp_path: Path, name: str) -> None:
    toml, key = CASES[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: {key}"), line


def test_a_broken_lid_model_is_a_config_error(tmp_path: Path) -> None:
    model = tmp_path / "lid.bin"
    model.write_bytes(b"not a fastText model")
    with pytest.raises(ConfigError, match="lid.model_path: .*not a fastText model"):
        load_config(overrides={"lid.model_path": str(model)})


@pytest.mark.parametrize("name", ["timeout-inf", "blocklist", "vocab"])
def test_the_cli_says_one_line_exits_2_and_writes_nothing(tmp_path: Path, name: str) -> None:
    toml, key = CASES[name]
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "assay", "curate", str(warc("cc-single-record.warc.gz")), "-o", str(out),
           "-c", str(cfg)]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"error: {cfg}: {key}")
    assert not out.exists()  # not even _work/state.json


def test_tokenize_refuses_an_absurd_vocabulary_before_the_rust_abort(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "assay", "tokenize", str(tmp_path), "--train-tokenizer",
                        "--vocab-size", "99999999999"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "vocab_size" in r.stderr and "Traceback" not in r.stderr, r.stderr
