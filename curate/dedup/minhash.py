"""MinHash signatures for near-duplicate removal: text -> shingles -> signature -> signature file.

Two stages, like datatrove's MinHash pipeline but with compact columnar state:

1. per file (parallel, in the per-file task): `signatures()` -> `write_signatures()`, one
   Parquet file of fixed-width uint32 arrays per task (never pickled objects), written
   before the task's completion marker, so it resumes with the task.
2. once per run: LSH over every signature file (`curate.dedup.near` as executor tasks with
   bounded memory; `curate.dedup.lsh` in one process, the reference) gives the clusters.

Defaults follow FineWeb / datatrove: 5-word shingles of normalised text, 112
permutations as 14 bands x 8 rows (S-curve threshold ~0.72, catches Jaccard >= 0.8
with p >= 0.92).

Hashing, all vectorised with numpy:
- normalisation: code points (utf-32) classified through numpy lookup tables;
- shingles: a polynomial prefix hash over the code points of the normalised text
  gives every n-word substring's hash in O(characters) numpy work (no Python loop
  per word), finished with the MurmurHash3 64-bit finaliser;
- permutations: datasketch >= 2.0's "affine32" scheme (fmix32 pre-mix, then
  h -> a*h + b mod 2^32, a odd, a/b drawn from `np.random.RandomState(seed)`), so a
  signature equals `datasketch.MinHash(num_perm, seed, scheme="affine32")` fed the
  same 32-bit shingle hashes (tested), and is identical whichever process computes it.

Speed and memory against datasketch and datatrove: docs/minhash.md, docs/minhash-memory.md.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import regex

from curate.dedup.config import NearDedupConfig
from provenance.outdir import write_parquet
from provenance.schema import TS

# Bumped whenever a change alters signature values: files of another version are recomputed.
HASH_SCHEME = "assay-minhash-1:poly64(codepoints)+fmix64>>32,fmix32,affine32"
METADATA_KEY = b"assay.minhash"

# Empty documents (no shingle at all) get this row: every value 2^32-1, which no
# real document reaches in all `num_perm` permutations (probability 2^-32 per
# permutation). `find_clusters` never indexes such rows, so they never collide,
# not even with each other.
EMPTY_VALUE = np.uint32(0xFFFFFFFF)

_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_POLY_BASE = _U64(0x100000001B3 * 2 + 1)  # an odd 64-bit base (FNV prime * 2 + 1) for the prefix hash
_POLY_BASE_INV = _U64(pow(int(_POLY_BASE), -1, 2**64))
_SHINGLE_CHUNK = 4096  # shingles per (chunk x num_perm) uint32 block: 4096 x 112 x 4 B = 1.8 MB, cache sized


def signature_params(cfg: NearDedupConfig) -> dict:
    """The settings that determine signature values (bands/rows/verify do not)."""
    return {"scheme": HASH_SCHEME, "shingle": cfg.shingle, "ngram": cfg.ngram,
            "num_perm": cfg.num_perm, "seed": cfg.seed}


# --- text -> shingles ---------------------------------------------------------------

# Character classes, decided per code point with `regex` the first time a code point is seen
# and then looked up in numpy tables, so normalising a document is a few vectorised passes.
# Punctuation, symbols and whitespace become one space (so "end.Start" stays two words), as
# datatrove's simplify_text removes punctuation before shingling. Han, kana and bopomofo are
# written without spaces: each such character counts as a word (ja, zh).
_SEP_RE = regex.compile(r"[\p{P}\p{S}\s\p{Cc}]")
_CJK_RE = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}]")
_N_CODEPOINTS = sys.maxunicode + 1
_KNOWN = np.zeros(_N_CODEPOINTS, dtype=bool)
_SEP = np.zeros(_N_CODEPOINTS, dtype=bool)
_CJK = np.zeros(_N_CODEPOINTS, dtype=bool)
_SPACE = np.uint32(0x20)


def _classify(cp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_separator, is_cjk) per code point; classifies code points not seen before."""
    new = cp[~_KNOWN[cp]]
    if len(new):
        for c in np.unique(new).tolist():
            ch = chr(c)
            _SEP[c] = _SEP_RE.match(ch) is not None
            _CJK[c] = _CJK_RE.match(ch) is not None
            _KNOWN[c] = True
    return _SEP[cp], _CJK[cp]


def _normalized_codepoints(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Code points (uint32) of the normalised text and their CJK flags."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    cp = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(cp) == 0:
        return cp, np.zeros(0, dtype=bool)
    sep, cjk = _classify(cp)
    keep = ~sep
    keep[1:] |= ~sep[:-1]  # a separator survives (as one space) only right after a non-separator
    cp, sep, cjk = np.where(sep, _SPACE, cp)[keep], sep[keep], cjk[keep]
    if len(cp) and sep[-1]:
        cp, cjk = cp[:-1], cjk[:-1]
    return cp, cjk


def normalize_for_shingles(text: str) -> str:
    """NFKC, lowercase, punctuation/symbols/controls -> space, whitespace collapsed to single spaces."""
    return _normalized_codepoints(text)[0].tobytes().decode("utf-32-le", "surrogatepass")


def _word_codepoints(cp: np.ndarray, cjk: np.ndarray) -> np.ndarray:
    """Normalised code points with a space around each CJK character, so words are space separated."""
    if not cjk.any():
        return cp
    space = cp == _SPACE
    nxt_word = np.concatenate((~space[1:], [False]))
    nxt_cjk = np.concatenate((cjk[1:], [False]))
    extra = nxt_word & ~space & (cjk | nxt_cjk)  # insert a space after this character
    out = np.repeat(cp, 1 + extra)
    out[(np.cumsum(1 + extra) - 1)[extra]] = _SPACE
    return out


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser (an avalanching bijection), element-wise, wrapping arithmetic."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser: the pre-mix datasketch's affine32 scheme applies."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _substring_hashes(symbols: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hashes of symbols[starts[i]:ends[i]] for all i, in O(len(symbols)) numpy work.

    Polynomial prefix hash mod 2^64 (Karp-Rabin): P[k] = sum_{i<k} c_i B^(k-1-i), so
    H(s, e) = P[e] - P[s] * B^(e-s). P is built without a sequential loop as
    P[k] = B^(k-1) * cumsum(c_i * B^-i) (B odd, so invertible mod 2^64). The
    MurmurHash3 finaliser then spreads the bits.
    """
    c = symbols.astype(_U64) + _U64(1)  # +1: no zero symbol
    n = len(c)
    pw = np.empty(n + 1, dtype=_U64)
    pw[0] = 1
    np.cumprod(np.full(n, _POLY_BASE, dtype=_U64), out=pw[1:])
    inv = np.empty(n, dtype=_U64)
    inv[0] = 1
    np.cumprod(np.full(n - 1, _POLY_BASE_INV, dtype=_U64), out=inv[1:])
    prefix = np.zeros(n + 1, dtype=_U64)
    np.cumsum(c * inv, out=prefix[1:])
    prefix[1:] *= pw[:-1]  # B^(k-1) * sum_{i<k} c_i B^-i
    h = prefix[ends] - prefix[starts] * pw[ends - starts]
    return _fmix64(h ^ (ends - starts).astype(_U64))


def shingle_hashes(text: str, cfg: NearDedupConfig) -> np.ndarray:
    """uint64 hashes of the document's shingles (with repeats, in text order).

    word: n consecutive words of the normalised text (each CJK character is a word);
    char: n consecutive characters of the normalised text. A shingle is hashed as its
    words joined by single spaces. A text shorter than n words/characters gives ONE
    shingle, the whole normalised text; an empty text (or only punctuation) gives none.
    """
    cp, cjk = _normalized_codepoints(text)
    if len(cp) == 0:
        return np.empty(0, dtype=_U64)
    if cfg.shingle == "word":
        cp = _word_codepoints(cp, cjk)
        spaces = np.flatnonzero(cp == _SPACE)
        unit_starts = np.concatenate(([0], spaces + 1))
        unit_ends = np.concatenate((spaces, [len(cp)]))
    else:
        unit_starts = np.arange(len(cp))
        unit_ends = unit_starts + 1
    n_units = len(unit_starts)
    if n_units < cfg.ngram:
        starts, ends = np.array([0]), np.array([len(cp)])
    else:
        starts = unit_starts[: n_units - cfg.ngram + 1]
        ends = unit_ends[cfg.ngram - 1 :]
    return _substring_hashes(cp, starts.astype(np.int64), ends.astype(np.int64))


# --- shingles -> signatures -------------------------------------------------------------


def permutations(cfg: NearDedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 arrays of the affine permutations, drawn exactly as datasketch 2.x's
    affine32 scheme does from `np.random.RandomState(seed)` (so signatures match it)."""
    gen = np.random.RandomState(cfg.seed)
    a = gen.randint(0, 1 << 31, cfg.num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, cfg.num_perm, dtype=np.uint32)
    return a, b


def minhash_of_hashes(hashes32: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signature (uint32, len(a)) of a set of 32-bit hashes; all-max when empty."""
    sig = np.full(len(a), EMPTY_VALUE, dtype=np.uint32)
    if len(hashes32) == 0:
        return sig
    x = _fmix32(np.unique(hashes32.astype(np.uint32)))
    buf = np.empty((min(len(x), _SHINGLE_CHUNK), len(a)), dtype=np.uint32)
    for lo in range(0, len(x), _SHINGLE_CHUNK):
        chunk = x[lo : lo + _SHINGLE_CHUNK, None]
        out = buf[: len(chunk)]
        np.multiply(chunk, a, out=out)  # uint32 wraparound is the mod 2^32 of the scheme
        np.add(out, b, out=out)
        np.minimum(sig, out.min(axis=0), out=sig)
    return sig


_TEXT_MARK = "\ue000"  # a private-use character: a word of its own between texts (removed from the texts)
_MANY_BATCH = 2048  # texts per pass of shingle_hashes_many (bounds the uint64 work arrays)


def _many_batch(texts: Sequence[str], ngram: int, short: bool) -> tuple[np.ndarray, np.ndarray]:
    cp, cjk = _normalized_codepoints(f" {_TEXT_MARK} ".join(t.replace(_TEXT_MARK, " ") for t in texts))
    if len(cp) == 0:
        return np.empty(0, dtype=_U64), np.empty(0, dtype=np.int64)
    cp = _word_codepoints(cp, cjk)
    spaces = np.flatnonzero(cp == _SPACE)
    unit_starts = np.concatenate(([0], spaces + 1)).astype(np.int64)
    unit_ends = np.concatenate((spaces, [len(cp)])).astype(np.int64)
    is_mark = (unit_ends - unit_starts == 1) & (cp[unit_starts] == ord(_TEXT_MARK))
    words = np.flatnonzero(~is_mark)  # the units that are words of a text, in order
    owner = np.cumsum(is_mark)[words]  # the text each word belongs to
    n_words = np.bincount(owner, minlength=len(texts))
    first = np.concatenate(([0], np.cumsum(n_words)[:-1]))  # index in `words` of each text's first word
    k = np.arange(len(words)) - first[owner]  # position of each word in its text
    n = n_words[owner]
    full = k <= n - ngram  # starts of whole n-word windows
    short = (k == 0) & (n < ngram) & short  # a text shorter than n words: one shingle, all of it
    i = np.flatnonzero(full | short)
    last = i + np.where(full[i], ngram, n[i]) - 1
    h = _substring_hashes(cp, unit_starts[words[i]], unit_ends[words[last]])
    return h, owner[i]


def shingle_hashes_many(texts: Sequence[str], cfg: NearDedupConfig, *,
                        short: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Word shingles of many texts at once: (uint64 hashes, index of the text each came from), equal to
    `shingle_hashes(t, cfg)` for each text in turn, concatenated; a few numpy passes over the joined
    texts instead of a few dozen numpy calls per text (short texts, e.g. evaluation items, hash ~10x
    faster). `short=False`: a text of fewer than `cfg.ngram` words gives no shingle (not its whole text).
    U+E000 (private use) in a text counts as a space."""
    if cfg.shingle != "word":
        raise ValueError("shingle_hashes_many hashes word shingles")
    hashes, owners = [np.empty(0, dtype=_U64)], [np.empty(0, dtype=np.int64)]
    for lo in range(0, len(texts), _MANY_BATCH):
        h, o = _many_batch(texts[lo : lo + _MANY_BATCH], cfg.ngram, short)
        hashes.append(h)
        owners.append(o + lo)
    return np.concatenate(hashes), np.concatenate(owners)


def shingle_hashes32(text: str, cfg: NearDedupConfig) -> np.ndarray:
    """The 32-bit values the permutations see: the top half of each 64-bit shingle hash."""
    return (shingle_hashes(text, cfg) >> _U64(32)).astype(np.uint32)


def signatures(texts: Sequence[str], cfg: NearDedupConfig) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures.

    An empty text (no shingles) gets the sentinel row of EMPTY_VALUE, which
    `find_clusters` never indexes. Non-string entries are treated as empty.
    """
    a, b = permutations(cfg)
    out = np.empty((len(texts), cfg.num_perm), dtype=np.uint32)
    for i, text in enumerate(texts):
        hashes = shingle_hashes32(text, cfg) if isinstance(text, str) else np.empty(0, np.uint32)
        out[i] = minhash_of_hashes(hashes, a, b)
    return out


def is_empty_signature(sigs: np.ndarray) -> np.ndarray:
    """Boolean mask of sentinel (empty-document) rows."""
    return np.all(sigs == EMPTY_VALUE, axis=1)


# --- signature files ------------------------------------------------------------------------


def _signature_schema(cfg: NearDedupConfig) -> pa.Schema:
    meta = json.dumps(signature_params(cfg), sort_keys=True).encode()
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("warc_date", TS),
            pa.field("signature", pa.list_(pa.uint32(), cfg.num_perm), nullable=False),
            pa.field("record_index", pa.int64(), nullable=False),  # the row's record in its part
        ],
        metadata={METADATA_KEY: meta},
    )


def write_signatures(path: str | os.PathLike[str], doc_ids: list[str], warc_dates: pa.Array,
                     sigs: np.ndarray, cfg: NearDedupConfig, record_index: np.ndarray | None = None) -> None:
    """Write one task's signatures: Parquet (zstd), fixed-width uint32 lists, written atomically.

    `record_index` names each row's record in its part (default: 0, 1, 2...), so the dedup stage
    can join signatures with the part's rows. The file's metadata holds the signature parameters;
    the bytes depend only on the inputs (no timestamps), so a rerun writes an identical file.
    """
    sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
    if sigs.shape != (len(doc_ids), cfg.num_perm):
        raise ValueError(f"signatures shape {sigs.shape} != ({len(doc_ids)}, {cfg.num_perm})")
    if len(warc_dates) != len(doc_ids):
        raise ValueError(f"{len(warc_dates)} warc_dates for {len(doc_ids)} doc_ids")
    schema = _signature_schema(cfg)
    table = pa.table(
        [
            pa.array(doc_ids, pa.string()),
            pa.array(warc_dates).cast(TS),
            pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1), pa.uint32()), cfg.num_perm),
            pa.array(np.arange(len(doc_ids)) if record_index is None else record_index, pa.int64()),
        ],
        schema=schema,
    )
    write_parquet(path, table)


def signature_file_matches(path: str | os.PathLike[str], cfg: NearDedupConfig) -> bool:
    """True when `path` is a signature file for these signature parameters (checked before LSH reads it)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    return meta.get(METADATA_KEY) == json.dumps(signature_params(cfg), sort_keys=True).encode()


def require_signature_files(paths: Sequence[str | os.PathLike[str]], cfg: NearDedupConfig) -> None:
    """Refuse a file of other signature parameters before LSH reads it (a bug: tasks write matching files)."""
    for p in paths:
        if not signature_file_matches(p, cfg):
            raise ValueError(f"{p}: not a signature file for {signature_params(cfg)} (recompute it)")


def read_signatures(paths: Sequence[str | os.PathLike[str]],
                    cfg: NearDedupConfig) -> tuple[pa.Table, np.ndarray]:
    """All files' doc_id/warc_date (one table) and signatures ((n, num_perm) uint32), in path order.

    Signatures are copied file by file into one preallocated array (one copy, 4 * num_perm B/doc).
    """
    require_signature_files(paths, cfg)
    counts = [pq.read_metadata(p).num_rows for p in paths]
    sigs = np.empty((sum(counts), cfg.num_perm), dtype=np.uint32)
    tables, lo = [], 0
    for p, n in zip(paths, counts, strict=True):
        t = pq.read_table(p)
        flat = t.column("signature").combine_chunks().values.to_numpy(zero_copy_only=False)
        sigs[lo : lo + n] = flat.reshape(n, cfg.num_perm)
        tables.append(t.select(["doc_id", "warc_date"]))
        lo += n
    if not tables:
        return pa.table({"doc_id": pa.array([], pa.string()), "warc_date": pa.array([], TS)}), sigs
    return pa.concat_tables(tables), sigs
