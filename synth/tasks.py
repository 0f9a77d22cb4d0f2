"""Tasks are prompt templates in TOML files a user can edit: an id, a version, and Jinja text.

The id and version go into every synthetic record's provenance, so a change of
wording is a new version and stays traceable.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from provenance.errors import ConfigError

TEMPLATE_DIR = Path(__file__).parent / "templates"
BUILTIN_TASKS = ("continuation", "rephrase", "qa")


def first_words(text: str, n: int) -> str:
    """The first `n` whitespace-separated words of `text` (keeps prompts a bounded size)."""
    return " ".join(str(text).split()[: int(n)])


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.filters["first_words"] = first_words


@dataclass(frozen=True)
class Template:
    id: str
    version: str
    chat: bool
    user: str
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    sha256: str = ""  # of the TOML file, recorded in run.json

    def messages(self, doc: dict[str, Any]) -> list[dict[str, str]]:
        """Chat messages for one seed document."""
        ctx = {"doc": doc, "params": self.params}
        msgs = []
        if self.system:
            msgs.append({"role": "system", "content": _ENV.from_string(self.system).render(ctx)})
        msgs.append({"role": "user", "content": _ENV.from_string(self.user).render(ctx)})
        return msgs

    def render(self, doc: dict[str, Any], tokenizer: Any | None = None) -> str:
        """The prompt string: the model's chat template when the task is a chat task and the
        tokenizer has one; otherwise system and user text joined by a blank line."""
        msgs = self.messages(doc)
        if self.chat and tokenizer is not None and getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in msgs)


def load_template(task: str | Path) -> Template:
    """Load a built-in task by name or any TOML template file by path."""
    path = Path(task)
    if not path.suffix:
        path = TEMPLATE_DIR / f"{task}.toml"
    if not path.is_file():
        raise ConfigError(f"no task template {task!r} (built-in: {', '.join(BUILTIN_TASKS)}; "
                          "or a .toml path)")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode())
        prompt = data["prompt"]
        tpl = Template(id=str(data["id"]), version=str(data["version"]), chat=bool(data.get("chat", False)),
                       user=prompt["user"], system=prompt.get("system"), params=dict(data.get("params", {})),
                       description=data.get("description", ""), sha256=hashlib.sha256(raw).hexdigest())
        _ENV.from_string(tpl.user)  # syntax check now, not mid-run
        if tpl.system:
            _ENV.from_string(tpl.system)
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError, jinja2.TemplateSyntaxError) as e:
        raise ConfigError(f"{path}: bad task template ({type(e).__name__}: {e})") from None
    return tpl
