"""The synthetic-gate policy: the one rule for mixing a synthetic set into training data.

A synthetic set (a run.json of kind "synth") may be mixed only when `assay synth validate`
recorded the verdict `pass`. A set that failed, was never validated, or carries no verdict at
all is refused, unless the user overrides (`--allow-failed-synthetic`), and then the override
is recorded by the caller (the training run's run.json). It lives in provenance because both
train (which mixes) and synth (which writes the verdicts) use it, and train may not import synth.
"""

from __future__ import annotations

import os
from typing import Any

from provenance.errors import UserError

PASS, FAIL, NA, NOT_VALIDATED = "pass", "fail", "n/a", "not_validated"
SYNTH_KIND = "synth"  # run.json `kind` of a synthetic set


class SyntheticNotPassedError(UserError):
    """A synthetic set whose gates did not pass was given for mixing without the override."""


def is_synthetic(manifest: dict[str, Any]) -> bool:
    return manifest.get("kind") == SYNTH_KIND


def gate_verdict(manifest: dict[str, Any]) -> str:
    """The overall gate verdict a synthetic set's run.json records; `not_validated` when it has none."""
    overall = (manifest.get("gates") or {}).get("overall")
    return str(overall) if overall is not None else NOT_VALIDATED


def check_mixable(name: str, path: str | os.PathLike[str], manifest: dict[str, Any],
                  allow_failed: bool) -> dict[str, Any] | None:
    """Apply the policy to one data source; raise `SyntheticNotPassedError` when it is refused.

    Returns what the caller records for a synthetic set ({name, path, verdict, override}), or
    None for a set that is not synthetic (nothing to gate)."""
    if not is_synthetic(manifest):
        return None
    verdict = gate_verdict(manifest)
    if verdict != PASS and not allow_failed:
        why = "failed its gates" if verdict == FAIL else f"has no passing gate verdict ({verdict})"
        raise SyntheticNotPassedError(
            f"synthetic set {name!r} ({path}) {why}; run `assay synth validate {path} --reference ...` "
            "and train on it once it passes, or pass --allow-failed-synthetic to train on it anyway")
    return {"name": name, "path": str(path), "verdict": verdict, "override": verdict != PASS}
