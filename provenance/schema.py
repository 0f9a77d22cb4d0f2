"""Arrow schemas of the on-disk contracts (DESIGN.md "Data contracts").

One place defines every column, so the pipeline, the disclosure and the tests
agree on names and types. Bump SCHEMA_VERSION when a column changes meaning.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1"

# Decisions a provenance row can carry. `taken-down` is written only by `assay takedown`.
KEPT, REJECTED, DUPLICATE, ERROR, TAKEN_DOWN = "kept", "rejected", "duplicate", "error", "taken-down"

PII_TYPES = ("email", "phone", "ip", "credit_card", "ssn", "iban")
PII_STRUCT = pa.struct([pa.field(t, pa.int32()) for t in PII_TYPES])

TS = pa.timestamp("us", tz="UTC")

# ONE row per input WARC record, kept or not. Invariant: rows = records read.
PROVENANCE_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_sha256", pa.string(), nullable=False),
        pa.field("record_index", pa.int64(), nullable=False),  # position of the record in its file
        pa.field("offset", pa.int64(), nullable=False),  # byte offset of the record (compressed stream)
        pa.field("warc_record_id", pa.string()),
        pa.field("warc_type", pa.string()),
        pa.field("warc_date", TS),  # parsed leniently; raw value below
        pa.field("warc_date_raw", pa.string()),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("http_status", pa.int32()),
        pa.field("content_type", pa.string()),
        pa.field("charset", pa.string()),  # the charset the payload was decoded with
        pa.field("charset_source", pa.string()),  # http | meta | detected | fallback
        pa.field("payload_bytes", pa.int64()),
        pa.field("n_chars", pa.int64()),  # characters of extracted text
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("license", pa.string()),  # e.g. cc-by-sa-4.0; null when none detected
        pa.field("license_source", pa.string()),  # where it was found, e.g. a[rel=license]
        pa.field("tdm_reserved", pa.bool_()),
        pa.field("noai", pa.bool_()),
        pa.field("pii_counts", PII_STRUCT),
        pa.field("pii_redacted", pa.bool_()),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("step", pa.string()),  # the step that decided (null for kept)
        pa.field("reason", pa.string()),  # which rule, which value
        pa.field("dup_cluster", pa.string()),
        pa.field("dup_of", pa.string()),  # representative doc_id for duplicates
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Kept documents. `signals` is a JSON object (sorted keys) of every filter signal,
# so thresholds can be re-applied without re-extracting (dolma "attributes").
DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        pa.field("warc_date", TS),
        pa.field("source_file", pa.string()),
        pa.field("offset", pa.int64()),
        pa.field("license", pa.string()),
        pa.field("n_chars", pa.int64()),
        pa.field("signals", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Removed documents (text present) with the step and the reason.
REJECTED_SCHEMA = pa.schema(
    list(DOCUMENT_SCHEMA)
    + [
        pa.field("decision", pa.string(), nullable=False),
        pa.field("step", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("dup_cluster", pa.string()),
        pa.field("dup_of", pa.string()),
    ]
)

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


def empty_pii() -> dict[str, int]:
    return {t: 0 for t in PII_TYPES}
