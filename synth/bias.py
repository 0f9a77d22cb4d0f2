"""Bias metrics: identity-term representation and the identity x sentiment gap.

Representation: per category (gender, race/ethnicity, religion, age), the share of
mentions of each group; the metric is the total-variation distance between the
synthetic set's and the reference's shares. Sentiment: each sentence that mentions
a group gets VADER's compound score (Hutto & Gilbert 2014, `vaderSentiment`); the
gap is the largest difference between two groups' mean scores. Term lists live in
`synth/data/identity_terms.toml` (written for this project).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

TERMS_PATH = Path(__file__).parent / "data" / "identity_terms.toml"
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
WORD = re.compile(r"\w+")

# Too few mentions make shares noise: below these counts a category / group is reported
# but not gated (cf. the minimum-count practice of HolisticBias, Smith et al. 2022).
MIN_MENTIONS = 20
MIN_SENTENCES = 5

DEFINITIONS = {
    "identity_tvd": "total-variation distance (half the L1 distance) between the synthetic and reference "
                    "shares of identity-term mentions per group, per category; n/a below "
                    f"{MIN_MENTIONS} mentions in either set",
    "sentiment_gap": "max minus min over groups (with at least "
                     f"{MIN_SENTENCES} mentioning sentences) of the mean VADER compound score of sentences "
                     "that mention the group (Hutto & Gilbert 2014)",
}


@lru_cache(maxsize=4)
def load_terms(path: str = str(TERMS_PATH)) -> tuple[dict[str, dict[tuple[str, ...], str]], str]:
    """{category: {term word tuple: group}} and the file's sha256."""
    raw = Path(path).read_bytes()
    data = tomllib.loads(raw.decode())
    out: dict[str, dict[tuple[str, ...], str]] = {}
    for cat, groups in data.items():
        out[cat] = {tuple(WORD.findall(t.lower())): g for g, terms in groups.items() for t in terms}
    return out, hashlib.sha256(raw).hexdigest()


def mentions(tokens: Sequence[str], table: dict[tuple[str, ...], str]) -> list[str]:
    """Groups mentioned in a token sequence, longest term first, non-overlapping."""
    longest = max(map(len, table), default=1)
    found, i = [], 0
    while i < len(tokens):
        for n in range(longest, 0, -1):
            g = table.get(tuple(tokens[i:i + n]))
            if g is not None:
                found.append(g)
                i += n
                break
        else:
            i += 1
    return found


def profile(texts: Sequence[str], terms_path: str = str(TERMS_PATH)) -> dict:
    """Mention counts and sentiment sums per category and group."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    terms, _ = load_terms(terms_path)
    vader = SentimentIntensityAnalyzer()
    counts = {c: defaultdict(int) for c in terms}
    sent = {c: defaultdict(list) for c in terms}
    for text in texts:
        for s in SENTENCE.split(text):
            toks = WORD.findall(s.lower())
            if not toks:
                continue
            score = None
            for cat, table in terms.items():
                groups = mentions(toks, table)
                for g in groups:
                    counts[cat][g] += 1
                for g in set(groups):
                    if score is None:
                        score = vader.polarity_scores(s)["compound"]
                    sent[cat][g].append(score)
    return {"counts": {c: dict(v) for c, v in counts.items()},
            "sentiment": {c: dict(v) for c, v in sent.items()}}


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {g: c / total for g, c in counts.items()} if total else {}


def tvd(a: dict[str, int], b: dict[str, int]) -> float | None:
    if sum(a.values()) < MIN_MENTIONS or sum(b.values()) < MIN_MENTIONS:
        return None
    pa, pb = _shares(a), _shares(b)
    return 0.5 * sum(abs(pa.get(g, 0.0) - pb.get(g, 0.0)) for g in set(pa) | set(pb))


def group_means(sent: dict[str, list[float]]) -> dict[str, float]:
    return {g: sum(v) / len(v) for g, v in sorted(sent.items()) if len(v) >= MIN_SENTENCES}


def gap(sent: dict[str, list[float]]) -> float | None:
    means = group_means(sent)
    return max(means.values()) - min(means.values()) if len(means) >= 2 else None


def bias_metrics(synth_texts: Sequence[str], ref_texts: Sequence[str],
                 terms_path: str = str(TERMS_PATH)) -> dict:
    """Per-category metrics {synthetic, reference} plus the details the report shows."""
    ps, pr = profile(synth_texts, terms_path), profile(ref_texts, terms_path)
    metrics: dict[str, dict[str, float | None]] = {}
    details: dict[str, dict] = {}
    for cat in ps["counts"]:
        metrics[f"identity_tvd_{cat}"] = {"synthetic": tvd(ps["counts"][cat], pr["counts"][cat]),
                                          "reference": 0.0}
        metrics[f"sentiment_gap_{cat}"] = {"synthetic": gap(ps["sentiment"][cat]),
                                           "reference": gap(pr["sentiment"][cat])}
        details[cat] = {
            "synthetic": {"counts": ps["counts"][cat], "shares": _shares(ps["counts"][cat]),
                          "sentiment": group_means(ps["sentiment"][cat])},
            "reference": {"counts": pr["counts"][cat], "shares": _shares(pr["counts"][cat]),
                          "sentiment": group_means(pr["sentiment"][cat])},
        }
    return {"metrics": metrics, "details": details, "terms_sha256": load_terms(terms_path)[1]}
