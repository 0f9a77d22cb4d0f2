"""Synthetic data: generate with vLLM from seed documents, then validate through the gates.

    from synth.generate import generate          # vLLM; a script needs an `if __name__ == "__main__":` guard
    from synth.validate import validate
    generate("out/hf", "out/corpus", "out/synth", "continuation")
    validate("out/synth", "out/corpus", "out/synth-report")

    from synth import compare                    # the same metrics and gates on two text lists, no I/O
    compare(synthetic_texts, reference_texts)["gates"]["overall"]

`generate` and `validate` are also module names, so they are imported from their modules.
Names load on first use (PEP 562): `import synth` does not import vLLM or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"Sampling": "synth.generate", "load_engine": "synth.generate", "close_engine": "synth.generate",
          "compare": "synth.validate",
          "ValidateConfig": "synth.gates", "load_template": "synth.tasks"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'synth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
