"""Shared fixtures. Real data lives in ../shared/data (read-only); tests fail, not skip, under CI=true
when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
