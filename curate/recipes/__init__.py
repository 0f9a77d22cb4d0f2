"""Recipes: named, versioned config presets that reproduce a published corpus's pipeline.

A recipe is a TOML file beside this module: a `[recipe]` table (version, summary, source, the
keys a run must give) and config sections laid under the user's config file and flags
(`assay curate --recipe fineweb`, or `recipe = "fineweb"` in the file; explicit keys win).
`assay` is the default: assay's own choices, an empty preset. docs/recipes.md lists each
recipe's deviations from its reference, measured.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from provenance.errors import ConfigError

DEFAULT_RECIPE = "assay"


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str
    summary: str
    source: str
    settings: dict[str, Any]  # config sections, laid under the user's file and flags
    requires: tuple[tuple[str, str], ...] = ()  # (dotted key, what it is) a run must set


def recipe_names() -> list[str]:
    files = resources.files(__package__).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


@cache
def get_recipe(name: str) -> Recipe:
    """The named recipe; a ConfigError naming the known ones when there is none."""
    if name not in recipe_names():
        raise ConfigError(f"unknown recipe {name!r}; known: {', '.join(recipe_names())}")
    data = tomllib.loads((resources.files(__package__) / f"{name}.toml").read_text(encoding="utf-8"))
    meta = data.pop("recipe")
    requires = tuple((k, v) for k, v in (meta.get("requires") or {}).items())
    return Recipe(name, str(meta["version"]), meta["summary"], meta["source"], data, requires)


def check_required(recipe: Recipe, data: dict[str, Any]) -> None:
    """A recipe's required inputs (dclm's classifier) must be set: else one line, before anything runs."""
    for dotted, what in recipe.requires:
        node: Any = data
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, ""):
            raise ConfigError(f"recipe {recipe.name} needs {dotted} ({what})")
