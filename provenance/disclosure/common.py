"""What every disclosure format shares: the three bases of an answer, NOT PROVIDED, the timestamp,
and the two ways crawled text is made safe to show (Markdown escaping, autoescaped HTML templates).

Crawled strings (URLs, domains, WARC file names, warcinfo fields) are untrusted: HTML output goes
through Jinja2 with autoescape on, Markdown output through `md`, and no output turns a crawled
string into a link.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from provenance.outdir import write_text

NOT_PROVIDED = "NOT PROVIDED"


class Basis(StrEnum):
    """Where an answer comes from: the records, the declarations, or neither (it reads NOT PROVIDED)."""

    DERIVED = "derived"
    DECLARED = "declared"
    MISSING = "not_provided"

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def basis_of(derived: Any, declared: Any = None) -> Basis:
    """DERIVED when the records gave the answer, else DECLARED when a declaration did, else MISSING."""
    return Basis.DERIVED if derived else (Basis.DECLARED if declared else Basis.MISSING)


def generated_at() -> str:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) pins the timestamp, so reruns are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def yes_no(value: bool | None) -> str:
    return NOT_PROVIDED if value is None else ("Yes" if value else "No")


def declared_or_missing(value: Any, key: str, fmt: Any = str) -> tuple[str, str, dict[str, Any]]:
    """(answer, basis, evidence) for what only a declaration can say: the value, or NOT PROVIDED."""
    if value is None or value == []:
        return NOT_PROVIDED, Basis.MISSING, {"declaration_key": key}
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return fmt(value), Basis.DECLARED, {"declaration_key": key, "declared": value}


def entry(number: str, title: str, answer: str, basis: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """One answered question of a sectioned disclosure (the EU summary): its basis and evidence."""
    return {"number": number, "title": title, "answer": answer, "basis": basis, "evidence": evidence}


def declared_entry(number: str, title: str, value: Any, key: str, fmt: Any = str) -> dict[str, Any]:
    return entry(number, title, *declared_or_missing(value, key, fmt))


def with_declared(derived: str, declared: str | None) -> str:
    """A derived answer followed by what was declared ("Declared: ..."), or NOT PROVIDED if neither."""
    parts = [derived] if derived else []
    if declared:
        parts.append(f"Declared: {declared}")
    return " ".join(parts) or NOT_PROVIDED


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def month(iso: str | None) -> str:
    """MM/YYYY (the EU template's date format) of an ISO timestamp."""
    return f"{iso[5:7]}/{iso[:4]}" if iso and len(iso) >= 7 else NOT_PROVIDED


# --- Markdown ------------------------------------------------------------------------------------

# Control characters (newlines included) and Unicode line/paragraph separators: a crawled file name
# holding "\n# title" must not start a heading or a list item.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Markdown punctuation that makes links, images, code, emphasis, headings or table cells
# (CommonMark 2.4: any ASCII punctuation may be backslash-escaped).
_MD_PUNCT = re.compile(r"([\\`*_\[\]#|~])")
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")  # a list item / setext line if it began a line
_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def md(text: Any) -> str:
    """`text` as one line of literal Markdown: no raw HTML (renderers pass it through), no link
    (`[x](javascript:...)`, `<scheme:...>`), no block structure from embedded line breaks."""
    s = _CONTROL.sub(" ", str(text))
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = _LINE_START.sub(r"\1\\\2", s)
    return re.sub(r"[<>&]", lambda m: _HTML[m.group(0)], s)


# --- HTML, and the three files of a disclosure document --------------------------------------------


def evidence_json(evidence: Any) -> str:
    return json.dumps(evidence, indent=2, sort_keys=True, default=str)


def render_template(name: str, **context: Any) -> str:
    """A page from provenance/templates with autoescape on: every crawled string is HTML-escaped."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    return env.get_template(name).render(NOT_PROVIDED=NOT_PROVIDED, evidence=evidence_json, **context)


def write_document(out: Path, files: dict[str, str], d: dict[str, Any], render_markdown: Callable[[Any], str],
                   render_html: Callable[[Any], str]) -> dict[str, Path]:
    """A disclosure's JSON, Markdown and HTML files (`files`: json/md/html -> name); paths by file name."""
    return {files["json"]: write_text(out / files["json"], json.dumps(d, indent=2, default=str) + "\n"),
            files["md"]: write_text(out / files["md"], render_markdown(d)),
            files["html"]: write_text(out / files["html"], render_html(d))}
