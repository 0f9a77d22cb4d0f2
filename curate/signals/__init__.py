"""Per-document provenance signals: personal information, Creative Commons licence, AI opt-out.

Pure functions, no state: the per-record chain calls them once per HTML record and writes
the results into the provenance row (`pii_counts`, `license`, `tdm_reserved`, `noai`),
so the AB 2013 disclosure (items 5 and 7) and takedowns are computed from records.
"""

from __future__ import annotations

from curate.signals.licence import cc_license_id, detect_license
from curate.signals.opt_out import detect_opt_out
from curate.signals.pii import DEFAULT_PLACEHOLDERS, detect_pii, find_pii, redact_pii

__all__ = ["DEFAULT_PLACEHOLDERS", "cc_license_id", "detect_license", "detect_opt_out", "detect_pii",
           "find_pii", "redact_pii"]
