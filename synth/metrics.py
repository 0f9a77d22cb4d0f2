"""Diversity and collapse metrics of a text set, each with the definition the report prints.

All metrics see word tokens (lower-cased `\\w+` runs), so they do not depend on
any model's tokenizer, and both sets are cut to the same token budget first:
type/token statistics grow with sample size, so only equal budgets compare.
"""

from __future__ import annotations

import gzip
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

WORD = re.compile(r"\w+")

DEFINITIONS: dict[str, str] = {
    **{f"distinct_{n}": f"unique {n}-grams / all {n}-grams over the whole set (Li et al. 2016, distinct-n)"
       for n in range(1, 5)},
    "compression_ratio": "bytes of the texts joined by newlines / bytes after gzip -9; higher means more "
                         "redundant text (Shaib et al. 2024, 'Standardizing the Measurement of Text "
                         "Diversity')",
    "self_bleu": "mean BLEU-4 (add-one smoothed for n>1) of each sampled document's first 100 words against "
                 "all other sampled documents as references; higher means more alike (Zhu et al. 2018, "
                 "Texygen)",
    "self_repetition": "mean over documents of the share of a document's distinct 4-grams that also occur in "
                       "another document of the set (Salkar et al. 2022, self-repetition)",
    "tail_mass": "share of tokens whose word type is not in the reference's head, the most frequent "
                 "reference types that together cover 90% of the reference's tokens (so the reference's "
                 "own tail mass is about 0.1 at any size); collapse loses the tails first "
                 "(Shumailov et al. 2024)",
    "type_coverage": "share of the reference's word types that occur in the set",
    "hapax_ratio": "share of word types that occur exactly once",
    "ngram_novelty": "share of the set's distinct 4-grams that do not occur in the seed documents",
    "copy_rate_13": "share of the set's 13-grams that occur verbatim in the seed documents (memorisation; "
                    "13-gram overlap as in the GPT-3 contamination analysis, Brown et al. 2020)",
    "ppl_mean": "mean per-document perplexity under the reference model (first 512 model tokens)",
    "ppl_p90": "90th percentile of per-document perplexity under the reference model (the upper tail)",
    "n_docs": "documents in the set after the equal-token-budget cut",
    "n_tokens": "word tokens in the set after the equal-token-budget cut",
}


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def cut_to_budget(docs: Sequence[list[str]], budget: int) -> list[list[str]]:
    """Documents in order until `budget` tokens; the last one is truncated."""
    out, left = [], budget
    for d in docs:
        if left <= 0:
            break
        if d:
            out.append(d[:left])
            left -= len(out[-1])
    return out


def distinct_n(docs: Sequence[list[str]], n: int) -> float | None:
    grams = [g for d in docs for g in ngrams(d, n)]
    return len(set(grams)) / len(grams) if grams else None


def compression_ratio(docs: Sequence[list[str]]) -> float | None:
    raw = "\n".join(" ".join(d) for d in docs).encode()
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0)) if raw else None


def _bleu(hyp: list[str], refs: list[Counter], ref_lens: list[int], max_n: int = 4) -> float:
    if not hyp:
        return 0.0
    logp = 0.0
    for n in range(1, max_n + 1):
        h = Counter(ngrams(hyp, n))
        total = sum(h.values())
        clipped = sum(min(c, max(r[n].get(g, 0) for r in refs)) for g, c in h.items()) if total else 0
        if n == 1:
            p = clipped / total if total and clipped else 1e-9
        else:
            p = (clipped + 1) / (total + 1)  # add-one smoothing (Lin & Och 2004)
        logp += math.log(p) / max_n
    closest = min(ref_lens, key=lambda r: (abs(r - len(hyp)), r))
    bp = 1.0 if len(hyp) > closest else math.exp(1 - closest / len(hyp))
    return bp * math.exp(logp)


def self_bleu(docs: Sequence[list[str]], sample: int = 64, seed: int = 0,
              words_per_doc: int = 100) -> float | None:
    """Self-BLEU on a seeded sample of documents (Zhu et al. 2018)."""
    docs = [d[:words_per_doc] for d in docs if d]
    if len(docs) < 2:
        return None
    idx = sorted(random.Random(seed).sample(range(len(docs)), min(sample, len(docs))))
    picked = [docs[i] for i in idx]
    counts = [{n: Counter(ngrams(d, n)) for n in range(1, 5)} for d in picked]
    lens = [len(d) for d in picked]
    scores = []
    for i, hyp in enumerate(picked):
        refs = counts[:i] + counts[i + 1:]
        scores.append(_bleu(hyp, refs, lens[:i] + lens[i + 1:]))
    return float(np.mean(scores))


def self_repetition(docs: Sequence[list[str]], n: int = 4) -> float | None:
    sets = [set(ngrams(d, n)) for d in docs]
    sets = [s for s in sets if s]
    if len(sets) < 2:
        return None
    df = Counter(g for s in sets for g in s)
    return float(np.mean([sum(df[g] > 1 for g in s) / len(s) for s in sets]))


def tail_mass(docs: Sequence[list[str]], head: set[str]) -> float | None:
    toks = [t for d in docs for t in d]
    return sum(t not in head for t in toks) / len(toks) if toks else None


def head_types(docs: Iterable[list[str]], coverage: float = 0.9) -> set[str]:
    """The most frequent types that together cover `coverage` of the tokens (the 'head').

    A fixed top-k is not comparable across sizes: at ~8 k words a top-1000 holds nearly every
    type, so the reference's own tail mass was 0-0.04 and the metric measured nothing. A coverage
    cut keeps the reference's tail mass near 1 - coverage at any size (the nucleus idea, applied
    to the reference's unigram distribution; Holtzman et al. 2020)."""
    counts = Counter(t for d in docs for t in d)
    need, head, seen = coverage * sum(counts.values()), set(), 0
    for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])):  # ties by word: deterministic
        if seen >= need:
            break
        head.add(w)
        seen += c
    return head


def hapax_ratio(docs: Sequence[list[str]]) -> float | None:
    counts = Counter(t for d in docs for t in d)
    return sum(c == 1 for c in counts.values()) / len(counts) if counts else None


def type_coverage(docs: Sequence[list[str]], ref_types: set[str]) -> float | None:
    types = {t for d in docs for t in d}
    return len(types & ref_types) / len(ref_types) if ref_types else None


def ngram_sets(docs: Iterable[list[str]], n: int) -> set[tuple[str, ...]]:
    return {g for d in docs for g in ngrams(d, n)}


def novelty(docs: Sequence[list[str]], seed_grams4: set) -> float | None:
    grams = ngram_sets(docs, 4)
    return sum(g not in seed_grams4 for g in grams) / len(grams) if grams else None


def copy_rate(docs: Sequence[list[str]], seed_grams13: set) -> float | None:
    grams = [g for d in docs for g in ngrams(d, 13)]
    return sum(g in seed_grams13 for g in grams) / len(grams) if grams else None


def perplexities(texts: Sequence[str], model_dir: str, max_tokens: int = 512,
                 batch_size: int = 8) -> list[float]:
    """Per-document perplexity under an HF causal LM (transformers, CPU, float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out: list[float] = []
    with torch.inference_mode():
        for text in texts:
            ids = tok(text, return_tensors="pt", truncation=True, max_length=max_tokens)["input_ids"]
            if ids.shape[1] < 2:
                continue
            loss = model(input_ids=ids, labels=ids).loss
            out.append(float(torch.exp(loss)))
    return out


def diversity(docs: Sequence[list[str]], *, head: set[str], ref_types: set[str],
              seed_docs: Sequence[list[str]] | None,
              self_bleu_sample: int = 64, seed: int = 0) -> dict[str, float | None]:
    """All model-free metrics of one (already budget-cut) tokenized set."""
    m: dict[str, float | None] = {f"distinct_{n}": distinct_n(docs, n) for n in range(1, 5)}
    m["compression_ratio"] = compression_ratio(docs)
    m["self_bleu"] = self_bleu(docs, sample=self_bleu_sample, seed=seed)
    m["self_repetition"] = self_repetition(docs)
    m["tail_mass"] = tail_mass(docs, head)
    m["type_coverage"] = type_coverage(docs, ref_types)
    m["hapax_ratio"] = hapax_ratio(docs)
    if seed_docs:
        m["ngram_novelty"] = novelty(docs, ngram_sets(seed_docs, 4))
        m["copy_rate_13"] = copy_rate(docs, ngram_sets(seed_docs, 13))
    else:
        m["ngram_novelty"] = m["copy_rate_13"] = None
    m["n_docs"] = float(len(docs))
    m["n_tokens"] = float(sum(map(len, docs)))
    return m
