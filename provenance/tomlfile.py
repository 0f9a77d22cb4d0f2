"""A pydantic model from a user's TOML file, with the one-line errors every config file gets.

The file and the key at fault are named (`gates.toml: gates.0.kind: Input should be ...`), an
unknown key is "unknown key" (models forbid extras, so typos do not vanish), and the error is a
`ConfigError` (or the subclass the caller names).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from provenance.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_toml(path: str | os.PathLike[str], model: type[M], *, what: str = "config",
              error: type[ConfigError] = ConfigError) -> M:
    """Parse and validate `path` as `model`; `error` with one line naming the file (and key) on failure."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{p}: {what} file not found") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{p}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise error(f"{p}: {key}: {msg}{more}") from None


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`, table by table (nested dicts merge; any other value replaces)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_tables(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
