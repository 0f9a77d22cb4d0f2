"""MinHash near-dedup (curate/minhash.py): shingling, signatures, signature files, clusters,
quality against brute-force Jaccard on real documentation WARCs, and the dedup report."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import regex
from dedup_reference import near_clusters
from pydantic import ValidationError

from conftest import warc
from curate.dedup.config import NearDedupConfig
from curate.dedup.lsh import band_buckets, find_clusters
from curate.dedup.minhash import (
    EMPTY_VALUE,
    normalize_for_shingles,
    shingle_hashes,
    shingle_hashes32,
    signature_file_matches,
    signatures,
    write_signatures,
)
from curate.exec import LocalExecutor
from provenance.schema import TS

DOCS_WARCS = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz", "debian-multilingual-docs.warc.gz")
CFG = NearDedupConfig()

# --- the real document set: docs pages kept after exact dedup -------------------------------


def extract_docs(path: Path, url_filter=None, limit: int | None = None,
                 extractor: str = "trafilatura") -> list[dict]:
    """Response records of one WARC -> {doc_id, url, warc_date, text} (no pipeline needed).

    trafilatura with fast=True skips its fallback extractors: ~30% less time on these clean docs pages;
    resiliparse (the fast path's extractor) is ~15x faster again (measured on 150 PostgreSQL pages: 5.5 s
    against 0.38 s CPU), which is what the brute-force test uses to stay cheap in CI.
    """
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    from curate.read.extract import extract_text

    docs = []
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response":
                continue
            if url_filter is not None and not url_filter(rec.rec_headers.get_header("WARC-Target-URI")):
                continue
            if limit is not None and len(docs) >= limit:
                break
            html = rec.content_stream().read().decode("utf-8", "replace")
            if extractor == "trafilatura":
                text = trafilatura.extract(html, favor_recall=False, fast=True)
            else:
                text = extract_text(html, "resiliparse")
            if not text:
                continue
            date = datetime.fromisoformat(rec.rec_headers.get_header("WARC-Date").replace("Z", "+00:00"))
            docs.append({"doc_id": rec.rec_headers.get_header("WARC-Record-ID"),
                         "url": rec.rec_headers.get_header("WARC-Target-URI"), "warc_date": date,
                         "text": text})
    return docs


def exact_dedup(docs: list[dict]) -> list[dict]:
    """Keep the first document of each normalised text (what the exact-dedup stage leaves)."""
    seen, kept = set(), []
    for d in docs:
        key = hashlib.sha256(normalize_for_shingles(d["text"]).encode()).digest()
        if key not in seen:
            seen.add(key)
            kept.append(d)
    return kept


def load_docs_cached(cache_dir: Path, extractor: str = "trafilatura") -> dict[str, list[dict]]:
    """Extracted docs of the three docs WARCs, kept after exact dedup, per file. The extraction (~1-5 min
    with trafilatura) is cached in `cache_dir`, keyed by the WARCs' sha256 and the extractor's version
    (also used by the benchmark)."""
    from importlib.metadata import version as installed

    paths = [warc(name) for name in DOCS_WARCS]
    key = hashlib.sha256(f"{extractor} {installed(extractor)} fast".encode())
    for p in paths:
        key.update(hashlib.sha256(p.read_bytes()).digest())
    cache = Path(cache_dir) / f"{key.hexdigest()[:16]}.parquet"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        rows = [dict(d, file=p.name) for p in paths for d in extract_docs(p, extractor=extractor)]
        tmp = cache.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        tmp.replace(cache)
    kept = exact_dedup(pq.read_table(cache).to_pylist())
    return {name: [d for d in kept if d["file"] == name] for name in DOCS_WARCS}


@pytest.fixture(scope="session")
def docs_by_file(request) -> dict[str, list[dict]]:
    return load_docs_cached(Path(request.config.cache.mkdir("minhash-docs")), extractor="resiliparse")


@pytest.fixture(scope="session")
def few_pages() -> dict[str, list[dict]]:
    """A few real pages for the fast tests: PostgreSQL docs, Debian Reference in ja / zh-cn / ru."""
    deb = warc("debian-multilingual-docs.warc.gz")
    return {
        "pg": extract_docs(warc("postgresql-15-docs.warc.gz"), limit=25),
        "ja": extract_docs(deb, lambda u: "debian-reference/ch0" in u and u.endswith(".ja.html"), limit=3),
        "zh": extract_docs(deb, lambda u: "debian-reference/ch0" in u and u.endswith(".zh-cn.html"), limit=2),
        "ru": extract_docs(deb, lambda u: u.endswith(".ru.html"), limit=3),
    }


# --- config ---------------------------------------------------------------------------------


def test_config_defaults_and_validation():
    assert (CFG.num_perm, CFG.bands, CFG.rows, CFG.ngram, CFG.shingle) == (112, 14, 8, 5, "word")
    with pytest.raises(ValidationError, match="bands \\* rows"):
        NearDedupConfig(num_perm=128)
    with pytest.raises(ValidationError, match="ngram"):
        NearDedupConfig(ngram=0)
    with pytest.raises(ValidationError):
        NearDedupConfig(bandz=3)  # extra="forbid": typos in the TOML are errors
    # the S-curve: P(candidate) is 0.5 at half_probability_similarity, steep around s_curve_threshold
    t = CFG.s_curve_threshold()
    assert 0.70 < t < 0.74
    assert CFG.candidate_probability(CFG.half_probability_similarity()) == pytest.approx(0.5)
    assert CFG.candidate_probability(0.8) > 0.9 > 0.1 > CFG.candidate_probability(0.5)
    assert NearDedupConfig(num_perm=20, bands=20, rows=1).s_curve_threshold() < t


# --- normalisation and shingles -------------------------------------------------------------


def test_normalize_for_shingles():
    assert normalize_for_shingles("  Hello,\tWORLD!!  ＡＢＣ１２３\n\n(end)") == "hello world abc123 end"
    assert normalize_for_shingles("...!?") == ""


def string_shingles(text: str, n: int) -> set[str]:
    """Independent reference shingling: words of the normalised text, CJK characters as words."""
    cjk = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}"
    words = regex.findall(rf"[{cjk}]|[^\s{cjk}]+", normalize_for_shingles(text))
    if not words:
        return set()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_shingle_edge_cases():
    assert shingle_hashes("", CFG).size == 0
    assert shingle_hashes("  ;;; ", CFG).size == 0
    assert shingle_hashes("only four words here", CFG).size == 1  # fewer words than ngram: one shingle
    assert shingle_hashes("five words are right here", CFG).size == 1
    assert shingle_hashes("six words are right here now", CFG).size == 2
    # the whole-text shingle distinguishes short texts
    assert shingle_hashes("four words here only", CFG)[0] != shingle_hashes("only four words here", CFG)[0]
    # equal shingles hash equal wherever they occur
    h = shingle_hashes("a b c d e x a b c d e", CFG)
    assert h[0] == h[-1] and len(set(h.tolist())) == 6
    # char shingles
    char = NearDedupConfig(shingle="char", ngram=3)
    assert shingle_hashes("abcd", char).size == 2 and shingle_hashes("ab", char).size == 1


def test_cjk_produces_shingles():
    ja = "日本語のテキストです。分かち書きがありません。"
    zh = "这是一个没有空格的中文句子，也要能去重。"
    for text in (ja, zh):
        h = shingle_hashes(text, CFG)
        assert len(h) == len(string_shingles(text, 5)) > 5
        assert len(set(h.tolist())) == len(h)
    assert shingle_hashes("日本語", CFG).size == 1  # three CJK words < 5: one shingle
    sig = signatures([ja, zh], CFG)
    assert not (sig == EMPTY_VALUE).all(axis=1).any()


def test_shingles_match_reference_on_real_pages(few_pages):
    """Same shingling as an independent string implementation, no hash collisions (ja/zh/ru pages too)."""
    assert len(few_pages["ja"]) == 3 and len(few_pages["zh"]) == 2 and len(few_pages["ru"]) == 3
    assert all(regex.search(r"\p{Han}", d["text"]) for d in few_pages["ja"] + few_pages["zh"])
    for d in [d for docs in few_pages.values() for d in docs]:
        ref = string_shingles(d["text"], CFG.ngram)
        assert len(set(shingle_hashes(d["text"], CFG).tolist())) == len(ref), d["url"]


# --- signatures --------------------------------------------------------------------------------


def test_signatures_equal_datasketch_affine32():
    """Our vectorised permutations are datasketch 2.x's affine32 MinHash on the same 32-bit shingle hashes."""
    from datasketch import MinHash

    text = "MinHash estimates the Jaccard similarity of two sets from the minima of random permutations. " * 3
    sig = signatures([text], CFG)[0]
    m = MinHash(num_perm=CFG.num_perm, seed=CFG.seed, hashfunc=lambda x: x, scheme="affine32")
    m.update_batch(shingle_hashes32(text, CFG).tolist())
    assert np.array_equal(m.hashvalues, sig)
    other = signatures([text], NearDedupConfig(seed=2))[0]
    assert not np.array_equal(other, sig)  # the seed matters


def _sigs_in_child(texts: list[str]) -> bytes:
    return signatures(texts, CFG).tobytes()


def test_signatures_identical_across_processes():
    texts = ["Identical text gives identical signatures in any process. " * 4, "日本語のテキストです。" * 3]
    ctx = multiprocessing.get_context("spawn")  # fresh interpreter: a different hash seed for str
    with ctx.Pool(1) as pool:
        child = pool.apply(_sigs_in_child, (texts,))
    assert child == signatures(texts, CFG).tobytes()


def test_empty_documents_get_a_sentinel_that_never_clusters(tmp_path):
    sigs = signatures(["", "   ", "real words make a real document here"], CFG)
    assert (sigs[:2] == EMPTY_VALUE).all() and not (sigs[2] == EMPTY_VALUE).all()
    dates = pa.array([None] * 3, TS)
    write_signatures(tmp_path / "s.parquet", ["e1", "e2", "d"], dates, sigs, CFG)
    assert find_clusters([tmp_path / "s.parquet"], CFG).num_rows == 0


def test_estimate_tracks_true_jaccard(few_pages):
    """Perturbed copies of real pages: the estimate is unbiased and within 4 sigma of the exact Jaccard
    (sigma = sqrt(J(1-J)/num_perm), the standard error of the MinHash estimator)."""
    rng = np.random.default_rng(0)
    docs = [d for d in few_pages["pg"] + few_pages["ja"] + few_pages["ru"] if len(d["text"].split()) > 150]
    assert len(docs) >= 10
    errors, z = [], []
    for d in docs:
        words = d["text"].split()
        idx = rng.choice(len(words), size=len(words) // 30, replace=False)
        for i in idx:
            words[i] = "zzz" + str(i)
        variant = " ".join(words)
        a, b = string_shingles(d["text"], 5), string_shingles(variant, 5)
        exact = len(a & b) / len(a | b)
        s = signatures([d["text"], variant], CFG)
        errors.append((s[0] == s[1]).mean() - exact)
        z.append(abs(errors[-1]) / np.sqrt(exact * (1 - exact) / CFG.num_perm))
    assert max(z) < 4 and abs(np.mean(errors)) < 0.03 and np.mean(np.abs(errors)) < 0.06, (errors, z)


# --- signature files -------------------------------------------------------------------------


def test_signature_file_bytes_deterministic_atomic_and_checked(tmp_path):
    texts = ["first document with several words in it", "second document, a bit different", ""]
    ids = ["<urn:a>", "<urn:b>", "<urn:c>"]
    dates = pa.array([datetime(2024, 1, 1, tzinfo=UTC), None, datetime(2023, 5, 1, tzinfo=UTC)], TS)
    p1, p2 = tmp_path / "a" / "sig.parquet", tmp_path / "b" / "sig.parquet"
    write_signatures(p1, ids, dates, signatures(texts, CFG), CFG)
    write_signatures(p2, ids, dates, signatures(texts, CFG), CFG)
    assert p1.read_bytes() == p2.read_bytes()
    assert sorted(x.name for x in p1.parent.iterdir()) == ["sig.parquet"]  # no temp file left
    t = pq.read_table(p1)
    assert t.schema.field("signature").type == pa.list_(pa.uint32(), 112)
    assert t.column("doc_id").to_pylist() == ids
    # a file of other signature parameters is refused before LSH reads it (resume is the task's marker)
    other = NearDedupConfig(ngram=3)
    assert signature_file_matches(p1, CFG) and not signature_file_matches(p1, other)
    with pytest.raises(ValueError, match="not a signature file"):
        find_clusters([p1], other)
    with pytest.raises(ValueError, match="not a signature file"):
        near_clusters([p1], other, LocalExecutor(1), tmp_path / "work")
    with pytest.raises(ValueError, match="shape"):
        write_signatures(tmp_path / "bad.parquet", ids[:2], dates[:2], signatures(texts, CFG), CFG)


# --- clusters --------------------------------------------------------------------------------


def _variant(text: str, k: int) -> str:
    words = text.split()
    words[len(words) // 2 + k] = f"changed{k}"
    return " ".join(words)


def _cluster_files(root: Path, few_pages: dict[str, list[dict]]) -> list[Path]:
    """file 1: z (2021), a (no date), u (unrelated); file 2: m (2021), b (2022) -- z/a/m/b near-dups."""
    base = max((d["text"] for d in few_pages["pg"]), key=len)
    assert len(base.split()) > 200
    other = few_pages["ru"][0]["text"]
    d = lambda y: datetime(y, 1, 1, tzinfo=UTC)  # noqa: E731
    write_signatures(root / "1.parquet", ["z", "a", "u"], pa.array([d(2021), None, d(2020)], TS),
                     signatures([base, _variant(base, 1), other], CFG), CFG)
    write_signatures(root / "2.parquet", ["m", "b"], pa.array([d(2021), d(2022)], TS),
                     signatures([_variant(base, 2), _variant(base, 3)], CFG), CFG)
    return [root / "1.parquet", root / "2.parquet"]


def test_clusters_global_across_files_with_representative_rule(tmp_path, few_pages):
    paths = _cluster_files(tmp_path, few_pages)
    t = find_clusters(paths, CFG)
    rows = t.to_pylist()
    assert [r["doc_id"] for r in rows] == ["a", "b", "m", "z"]  # sorted; the unrelated page is absent
    assert {r["dup_of"] for r in rows} == {"m"}  # earliest date (2021: m and z) then smallest doc_id
    assert len({r["dup_cluster"] for r in rows}) == 1 and rows[0]["dup_cluster"].startswith("mh-")
    assert [r["is_representative"] for r in rows] == [False, False, True, False]
    # reversed file order: same table (global, order independent)
    assert find_clusters(paths[::-1], CFG).equals(t)
    # excluded documents take no part; the representative moves to the next by the rule
    t2 = find_clusters(paths, CFG, exclude={"m"})
    assert (t2.column("doc_id").to_pylist() == ["a", "b", "z"]
            and set(t2.column("dup_of").to_pylist()) == {"z"})
    # verification keeps these (estimated Jaccard ~0.97)
    assert find_clusters(paths, CFG.model_copy(update={"verify": True})).equals(t)


def test_verify_drops_candidates_below_threshold(tmp_path):
    """Crafted signatures: a and b share band 0 only (estimated Jaccard 72/112 = 0.64)."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**32 - 1, CFG.num_perm, dtype=np.uint32)
    b = a.copy()
    b[72:] ^= np.uint32(1)
    c = rng.integers(0, 2**32 - 1, CFG.num_perm, dtype=np.uint32)
    write_signatures(tmp_path / "s.parquet", ["a", "b", "c"], pa.array([None] * 3, TS), np.stack([a, b, c]),
                     CFG)
    paths = [tmp_path / "s.parquet"]
    assert find_clusters(paths, CFG).column("doc_id").to_pylist() == ["a", "b"]
    assert find_clusters(paths, CFG.model_copy(update={"verify": True})).num_rows == 0
    assert find_clusters(paths,
                         CFG.model_copy(update={"verify": True, "verify_threshold": 0.6})).num_rows == 2


def test_cjk_near_duplicates_cluster(tmp_path, few_pages):
    ja, zh = few_pages["ja"][0]["text"], few_pages["zh"][0]["text"]
    assert regex.search(r"\p{Hiragana}", ja) and len(ja) > 2000 and len(zh) > 2000
    texts = [ja, ja.replace("。", "。追加", 1), zh, zh.replace("，", "，修改", 1), few_pages["ja"][1]["text"]]
    sigs = signatures(texts, CFG)
    ids = ["ja1", "ja2", "zh1", "zh2", "ja3"]
    write_signatures(tmp_path / "cjk.parquet", ids, pa.array([None] * 5, TS), sigs, CFG)
    t = find_clusters([tmp_path / "cjk.parquet"], CFG)
    assert t.column("doc_id").to_pylist() in (["ja1", "ja2", "zh1", "zh2"], ["zh1", "zh2", "ja1", "ja2"])
    assert sorted(set(t.column("dup_of").to_pylist())) == ["ja1", "zh1"]


@pytest.mark.parametrize("workers", [1, 2])
def test_partitioned_lsh_equals_single_process(tmp_path, few_pages, workers):
    """The near-dedup step as executor tasks (band map, bucket reduce per partition, components)
    gives `find_clusters`' table exactly: same clusters, representatives and row order."""
    paths = _cluster_files(tmp_path, few_pages)
    ja = few_pages["ja"][0]["text"]
    write_signatures(tmp_path / "3.parquet", ["ja1", "ja2"], pa.array([None] * 2, TS),
                     signatures([ja, ja.replace("。", "。追加", 1)], CFG), CFG)
    paths.append(tmp_path / "3.parquet")
    executor = LocalExecutor(workers)
    try:
        for update, partitions in (({}, 1), ({"verify": True}, 3), ({"bands": 28, "rows": 4}, 2)):
            cfg = CFG.model_copy(update=update)
            expected = find_clusters(paths, cfg)
            work = tmp_path / f"work-{len(update)}-{partitions}"
            got = near_clusters(paths, cfg, executor, work, partitions)
            assert got.equals(expected), (update, got.to_pylist(), expected.to_pylist())
            assert len(expected) >= 2
    finally:
        executor.close()


# --- quality against brute force on real data -----------------------------------------------


def exact_jaccard_all_pairs(shingle_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, J) for every pair sharing a shingle, exact, via a sparse doc x shingle product."""
    from scipy.sparse import csr_matrix

    sets = [np.unique(s) for s in shingle_sets]
    indptr = np.concatenate(([0], np.cumsum([len(s) for s in sets])))
    _, indices = np.unique(np.concatenate(sets), return_inverse=True)
    a = csr_matrix((np.ones(len(indices), np.int32), indices.ravel(), indptr),
                   shape=(len(sets), indices.max() + 1))
    inter = (a @ a.T).tocoo()
    upper = inter.row < inter.col
    i, j, n = inter.row[upper], inter.col[upper], inter.data[upper]
    sizes = np.diff(a.indptr)
    return i, j, n / (sizes[i] + sizes[j] - n)


def near_variants(docs: list[dict], n: int, seed: int = 2013) -> list[dict]:
    """Seeded near-duplicates of real pages: word substitutions, deletions and insertions at 0.2-6 % of
    the words, the kind of edits (dates, counters, a changed line) that separate near-duplicate pages.

    Needed because the three docs WARCs hold no pair with Jaccard >= 0.8 after exact dedup (max 0.76).
    """
    rng = np.random.default_rng(seed)
    pool = [d for d in docs if len(d["text"].split()) >= 100]
    out = []
    for k, idx in enumerate(rng.choice(len(pool), n, replace=False).tolist()):
        d, words = pool[idx], pool[idx]["text"].split()
        rate = rng.choice([0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06])
        for pos in sorted(rng.choice(len(words), max(1, int(len(words) * rate)), replace=False).tolist(),
                          reverse=True):
            op = int(rng.integers(3))
            if op == 0:
                words[pos] = f"edit{k}x{pos}"
            elif op == 1:
                del words[pos]
            else:
                words.insert(pos, f"ins{k}x{pos}")
        out.append(dict(d, doc_id=f"<variant:{k}:{d['doc_id']}>", text=" ".join(words)))
    return out


def directly_matched_pairs(sigs: np.ndarray) -> set[tuple[int, int]]:
    """Every pair of rows sharing a bucket in at least one band (all pairs, not the star edges)."""
    direct = set()
    for bucket in band_buckets(sigs, CFG):
        order = np.argsort(bucket, kind="stable")
        for g in np.split(order, np.flatnonzero(np.diff(bucket[order])) + 1):
            direct.update(combinations(sorted(g.tolist()), 2))
    return direct


@pytest.mark.slow  # extraction of ~1,960 pages with resiliparse the first time (cached afterwards), ~20 s
def test_quality_against_brute_force(tmp_path, docs_by_file, capsys):
    """Recall on pairs with exact Jaccard >= 0.8 and precision of directly matched pairs, global over 4
    files."""
    files = dict(docs_by_file)
    real = [d for docs in files.values() for d in docs]
    assert len(real) > 1800
    files["variants"] = near_variants(real, 300)
    paths, docs, sig_blocks = [], [], []
    for name, file_docs in files.items():
        sigs = signatures([d["text"] for d in file_docs], CFG)
        p = tmp_path / f"{name}.sig.parquet"
        write_signatures(p, [d["doc_id"] for d in file_docs],
                         pa.array([d["warc_date"] for d in file_docs], TS), sigs, CFG)
        paths.append(p)
        docs.extend(file_docs)
        sig_blocks.append(sigs)
    clusters = find_clusters(paths, CFG)
    cluster_of = dict(zip(clusters.column("doc_id").to_pylist(), clusters.column("dup_cluster").to_pylist(),
                          strict=True))
    label = [cluster_of.get(d["doc_id"], f"single-{k}") for k, d in enumerate(docs)]

    i, j, jac = exact_jaccard_all_pairs([shingle_hashes(d["text"], CFG) for d in docs])
    high = jac >= 0.8
    recall = float(np.mean([label[a] == label[b]
                            for a, b in zip(i[high].tolist(), j[high].tolist(), strict=True)]))
    jac_of = dict(zip(zip(i.tolist(), j.tolist(), strict=True), jac.tolist(), strict=True))
    direct = directly_matched_pairs(np.concatenate(sig_blocks))
    precision = sum(1 for p in direct if jac_of.get(p, 0.0) >= 0.5) / len(direct)
    real_high = int(np.sum(high & (j < len(real))))  # both documents real (variants come last)
    with capsys.disabled():
        print(f"\n[minhash quality] docs={len(docs)} ({len(real)} real + 300 variants); pairs with J>=0.8: "
              f"{int(high.sum())} ({real_high} real-real) recall={recall:.4f}; directly matched pairs: "
              f"{len(direct)} precision(J>=0.5)={precision:.4f}; clusters={len(set(cluster_of.values()))}, "
              f"documents in clusters={len(cluster_of)}")
    assert high.sum() >= 100  # enough pairs for the figure to mean something
    assert recall >= 0.9
    assert precision >= 0.95


# --- dedup report ------------------------------------------------------------------------------


def _write_provenance(out: Path) -> None:
    """Two provenance parts shaped like the pipeline's: an exact cluster of 2, near clusters of 3 and 2."""
    rows = [
        # doc_id, decision, step, dup_cluster, dup_of, url
        ("d1", "kept", None, "mh-aaa", None, "https://a.example/1"),
        ("d2", "duplicate", "near_dedup", "mh-aaa", "d1", "https://a.example/2?<script>alert(1)</script>"),
        ("d3", "duplicate", "near_dedup", "mh-aaa", "d1", "https://a.example/3"),
        ("d4", "kept", None, "mh-bbb", None, "https://b.example/[bold]x[/bold]"),
        ("d5", "duplicate", "near_dedup", "mh-bbb", "d4", "https://b.example/5"),
        ("d6", "kept", None, "exact-123", None, "https://c.example/6"),
        ("d7", "duplicate", "exact_dedup", "exact-123", "d6", "https://c.example/7"),
        ("d8", "rejected", "gopher_quality", None, None, "https://d.example/8"),
        ("d9", "kept", None, None, None, "https://d.example/9"),
    ]
    cols = list(zip(*rows, strict=True))
    names = ["doc_id", "decision", "step", "dup_cluster", "dup_of", "url"]
    (out / "provenance").mkdir(parents=True)
    for part, sl in (("part-00000", slice(0, 5)), ("part-00001", slice(5, 9))):
        pq.write_table(pa.table({n: pa.array(list(c[sl]), pa.string())
                                 for n, c in zip(names, cols, strict=True)}),
                       out / "provenance" / f"{part}.parquet")


def test_dedup_summary_and_html(tmp_path):
    from curate import dedup_section_html, dedup_summary

    _write_provenance(tmp_path)
    s = dedup_summary(tmp_path)
    assert s["records"] == 9 and s["duplicates_removed"] == 4
    assert s["removed_by_step"] == {"exact_dedup": 1, "near_dedup": 3}
    assert (s["near"]["clusters"] == 2 and s["near"]["removed"] == 3
            and s["near"]["documents_in_clusters"] == 5)
    assert s["near"]["histogram"] == [[2, 1], [3, 1]]
    top = s["near"]["largest"][0]
    assert top["cluster"] == "mh-aaa" and top["size"] == 3 and top["representative_url"] == "https://a.example/1"
    assert len(top["sample_urls"]) == 3
    assert s["exact"]["clusters"] == 1 and s["exact"]["removed"] == 1
    page = dedup_section_html(s)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith('<section id="dedup">') and "Near duplicates" in page


def test_dedup_report_cli(tmp_path):
    from typer.testing import CliRunner

    from assay.cli import app

    _write_provenance(tmp_path / "out")
    res = CliRunner().invoke(app, ["dedup-report", str(tmp_path / "out"), "-o", str(tmp_path / "d.html")])
    assert res.exit_code == 0, res.output
    assert "4 of 9 records removed" in res.output and "mh-aaa" in res.output
    assert "[bold]x[/bold]" in res.output  # URLs printed literally, not as rich markup
    assert "&lt;script&gt;" in (tmp_path / "d.html").read_text()
    res = CliRunner().invoke(app, ["dedup-report", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "no provenance" in res.output
