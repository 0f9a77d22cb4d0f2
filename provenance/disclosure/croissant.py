"""Croissant 1.0 metadata (croissant.json) with the Responsible-AI extension, from the records.

Every document part and token shard of each disclosed dataset is a FileObject with the sha256
and size its run.json records; a FileSet per dataset and folder gathers them; a RecordSet per
dataset and folder lists the fields (from provenance.schema). The RAI fields hold what the records
support: data collection (crawlers from warcinfo, period from WARC-Date), raw data (the WARC
files by sha256), preprocessing (each step with its removal counts), personal and sensitive
information (the PII scan and what it cannot see), limitations and biases (the synthetic-data
gates), annotation (label types of synthetic sets). Paths are relative to croissant.json.

Croissant format 1.0 (mlcommons.org/croissant/1.0) and RAI 1.0 (mlcommons.org/croissant/RAI/1.0);
property names as mlcroissant reads them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from provenance.declarations import Declarations
from provenance.disclosure import statements as st
from provenance.disclosure.common import NOT_PROVIDED
from provenance.disclosure.facts import Facts
from provenance.outdir import DOCUMENTS, TOKENS, write_text
from provenance.schema import DOCUMENT_SCHEMA

FILE = "croissant.json"
CONFORMS_TO = ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"]
# The JSON-LD @context of Croissant 1.0 (the spec's examples; mlcroissant's make_context).
CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/", "citeAs": "cr:citeAs", "column": "cr:column",
    "conformsTo": "dct:conformsTo", "equivalentProperty": "cr:equivalentProperty",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract", "field": "cr:field",
    "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject", "fileSet": "cr:fileSet",
    "format": "cr:format", "includes": "cr:includes", "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5", "parentField": "cr:parentField",
    "path": "cr:path", "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
    "transform": "cr:transform",
}
# encodingFormat of each folder: Parquet (as Croissant spells it), Arrow IPC file (IANA media type).
FORMATS = {DOCUMENTS: "application/x-parquet", TOKENS: "application/vnd.apache.arrow.file"}
TOKEN_FIELDS = {"doc_id": "sc:Text", "input_ids": "sc:Integer", "n_tokens": "sc:Integer"}  # DESIGN.md


def data_type(t: pa.DataType) -> str:
    """The Croissant dataType of an Arrow column type."""
    if pa.types.is_integer(t):
        return "sc:Integer"
    if pa.types.is_floating(t):
        return "sc:Float"
    if pa.types.is_boolean(t):
        return "sc:Boolean"
    return "sc:DateTime" if pa.types.is_timestamp(t) else "sc:Text"


def _name(d: dict[str, Any]) -> str:
    return Path(d["path"]).name


def distribution(f: Facts, out: Path) -> list[dict[str, Any]]:
    """A FileObject per document part and token shard (sha256 and size as run.json records them), and a
    FileSet per folder."""
    nodes = []
    for d in f.datasets:
        rel = Path(os.path.relpath(d["path"], out))
        for folder, fmt in FORMATS.items():
            files = [o for o in d["outputs"] if str(o["path"]).startswith(f"{folder}/")]
            if not files:
                continue
            nodes += [{"@type": "cr:FileObject", "@id": f"{_name(d)}/{o['path']}",
                       "name": f"{_name(d)}/{o['path']}", "contentUrl": (rel / o["path"]).as_posix(),
                       "contentSize": f"{o['bytes']} B", "encodingFormat": fmt, "sha256": o["sha256"]}
                      for o in files]
            glob = rel / folder / f"*{Path(files[0]['path']).suffix}"
            nodes.append({"@type": "cr:FileSet", "@id": f"{_name(d)}/{folder}",
                          "name": f"{_name(d)}/{folder}", "encodingFormat": fmt, "includes": glob.as_posix()})
    return nodes


def _fields(rs_id: str, fs_id: str, columns: dict[str, str], repeated: set[str]) -> list[dict[str, Any]]:
    return [{"@type": "cr:Field", "@id": f"{rs_id}/{col}", "name": col, "dataType": dtype,
             **({"repeated": True} if col in repeated else {}),
             "source": {"fileSet": {"@id": fs_id}, "extract": {"column": col}}}
            for col, dtype in columns.items()]


def record_sets(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A RecordSet per FileSet: documents (provenance.schema.DOCUMENT_SCHEMA) or token shards."""
    doc_cols = {fld.name: data_type(fld.type) for fld in DOCUMENT_SCHEMA}
    out = []
    for fs in (n for n in nodes if n["@type"] == "cr:FileSet"):
        tokens = fs["@id"].endswith(f"/{TOKENS}")
        cols, repeated = (TOKEN_FIELDS, {"input_ids"}) if tokens else (doc_cols, set())
        rs_id = fs["@id"].replace("/", "-")  # ids are unique across FileSets and RecordSets
        out.append({"@type": "cr:RecordSet", "@id": rs_id, "name": rs_id,
                    "description": "Token shards: one row per document." if tokens
                    else "Kept documents: one row per document.",
                    "key": {"@id": f"{rs_id}/doc_id"}, "field": _fields(rs_id, fs["@id"], cols, repeated)})
    return out


def rai(f: Facts, decl: Declarations) -> dict[str, Any]:
    """The Responsible-AI fields the records support (and the declared use cases)."""
    crawlers = sorted({w["fields"].get("software") for c in f.corpora for w in c["warcinfo"]} - {None})
    period = st.collection_period(f)
    steps, _ = st.processing_statement(f)
    pii, _ = st.pii_statement(f, decl.personal_information)
    warcs = [f"{Path(str(w['path'])).name} (sha256 {w['sha256']})"
             for c in f.corpora for w in c["warc_inputs"]]
    gates = [f"{_name(s)}: gate {k} {v}" for s in f.synth for k, v in sorted(s["per_gate"].items())]
    out: dict[str, Any] = {
        "rai:dataCollection": (f"Web pages crawled into {len(warcs)} WARC file(s) (crawlers named by "
                               f"warcinfo records: {', '.join(crawlers) or NOT_PROVIDED}); every record read "
                               "was kept or removed with a recorded reason." if f.corpora else NOT_PROVIDED)
        + (f" Synthetic records generated by language models: {st.generation_text(f)}." if f.synth else ""),
        "rai:dataCollectionType": (["Web Scraping"] if f.corpora else []) + (
            ["Synthetic generation by a language model"] if f.synth else []),
        "rai:dataCollectionRawData": "; ".join(warcs) or NOT_PROVIDED,
        "rai:dataPreprocessingProtocol": [steps] if f.corpora else [NOT_PROVIDED],
        "rai:personalSensitiveInformation": [pii] if f.corpora
        else [decl.personal_information or NOT_PROVIDED],
        "rai:dataLimitations": [f"Languages: {st.language_text(f)}.", "Personal information detection cannot "
                                f"see {st.PII_CANNOT_DETECT}.", *([decl.dataset.limitations]
                                                                  if decl.dataset.limitations else [])],
        "rai:dataBiases": gates or ["No bias gate measured these datasets (gates run on synthetic sets)."],
        "rai:dataUseCases": [decl.dataset.direct_use or NOT_PROVIDED],
    }
    if period["min"]:
        out["rai:dataCollectionTimeFrame"] = [period["min"], period["max"]]
    labelled = [s for s in f.synth if s["labels"]]
    if labelled:
        out["rai:dataAnnotationProtocol"] = st.synthetic_types(f)
        out["rai:machineAnnotationTools"] = sorted({str(s["generator"]["model"]) for s in labelled})
    return out


def build(f: Facts, decl: Declarations, head: dict[str, Any], out: Path) -> dict[str, Any]:
    ds = decl.dataset
    nodes = distribution(f, out)
    langs = [x["lang"] for x in st.languages(f) if x["lang"] not in (None, "None")]
    doc: dict[str, Any] = {
        "@context": CONTEXT, "@type": "sc:Dataset", "conformsTo": CONFORMS_TO,
        "name": ds.pretty_name or " + ".join(_name(d) for d in f.datasets),
        "description": ds.summary or (f"{f.kept:,} web documents and {sum(s['records'] for s in f.synth):,} "
                                      f"synthetic records; languages: {st.language_text(f)}."),
        "license": ds.license or NOT_PROVIDED, "inLanguage": langs, "dateModified": head["generated_at"],
        "distribution": nodes, "recordSet": record_sets(nodes), **rai(f, decl),
    }
    for key, value in (("url", ds.url), ("version", ds.version), ("citeAs", ds.citation)):
        if value:
            doc[key] = value
    if ds.curated_by:
        doc["creator"] = {"@type": "sc:Organization", "name": ds.curated_by}
    return doc


def write(f: Facts, decl: Declarations, head: dict[str, Any], out: Path) -> dict[str, Path]:
    return {FILE: write_text(out / FILE, json.dumps(build(f, decl, head, out.resolve()), indent=2) + "\n")}
