"""The walkthrough notebooks run top to bottom on the real files (so they never rot).

Executed with nbclient in a `python3` kernel from this venv, with the notebooks directory as
the working directory (they read ../../shared/data, i.e. ../shared/data from the repo root).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ["01-curate-a-crawl.ipynb", "02-synthetic-data-and-collapse.ipynb", "03-ab2013-disclosure.ipynb"]


def test_notebooks_are_generated_from_make_notebooks():
    """The committed .ipynb files are what notebooks/make_notebooks.py writes (reviewable source),
    outputs cleared."""
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("make_notebooks", NB_DIR / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert sorted(mod.NOTEBOOKS) == NOTEBOOKS
    for name, cells in mod.NOTEBOOKS.items():
        nb = nbformat.read(NB_DIR / name, as_version=4)
        assert [c.source for c in nb.cells] == [c.source for c in cells()], f"{name}: rerun make_notebooks.py"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, warc_dir):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NB_DIR / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    # the notebooks ran on the real data, not the fallback sample
    printed = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "using the embedded sample crawl" not in printed
