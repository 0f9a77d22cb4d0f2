"""Token shards: tokenizer training/loading, shard writing, the TokenShards reader, trace, CLI.

Corpora are real: the Python / PostgreSQL / Debian documentation WARCs in ../shared/data, read
with warcio and extracted with resiliparse once per session (cached under pytest's cache dir)
into an output directory shaped like `assay curate`'s (documents/, provenance/, run.json).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from typer.testing import CliRunner

from assay.cli import app
from curate import InputError, TokenizeConfig, TokenShards, tokenize_corpus, trace
from curate.exec import LocalExecutor
from curate.tokens.shards import plan_shards
from curate.tokens.tokenizer import EOS_TOKEN, ids_dtype, load_tokenizer, train_tokenizer
from provenance.manifest import read_manifest, sha256_file, write_manifest
from provenance.schema import DOCUMENT_SCHEMA, KEPT, PARQUET_OPTIONS, PROVENANCE_SCHEMA, REJECTED, empty_pii

DOCS_WARCS = ("python-3.11-docs.warc.gz", "postgresql-15-docs.warc.gz", "debian-multilingual-docs.warc.gz")
RUN_ID = "test-run-0001"
CORPUS_VERSION = "1"  # bump when the builder below changes


# ---------------------------------------------------------------------------- corpus fixture


def _build_corpus(out: Path, warc_dir: Path, names: tuple[str, ...], per_file: int | None) -> None:
    """documents/part-0000k.parquet (kept pages) + provenance (one row per WARC record) + run.json."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from warcio.archiveiterator import ArchiveIterator

    (out / "documents").mkdir(parents=True)
    (out / "provenance").mkdir()
    for k, name in enumerate(names):
        path = warc_dir / name
        src_sha = sha256_file(path)
        docs, prov = [], []
        with open(path, "rb") as f:
            it = ArchiveIterator(f)
            for idx, rec in enumerate(it):
                rid = rec.rec_headers.get_header("WARC-Record-ID").strip("<>")
                url = rec.rec_headers.get_header("WARC-Target-URI")
                kept = rec.rec_type == "response" and (per_file is None or len(docs) < per_file)
                text = ""
                if rec.rec_type == "response":
                    html = rec.content_stream().read()
                    if kept:
                        text = extract_plain_text(bytes_to_str(html, detect_encoding(html)),
                                                  main_content=True)
                row = {f.name: None for f in PROVENANCE_SCHEMA}
                row.update(doc_id=rid, source_file=name, source_sha256=src_sha, record_index=idx,
                           offset=it.get_record_offset(), warc_record_id=rid, warc_type=rec.rec_type,
                           warc_date_raw=rec.rec_headers.get_header("WARC-Date"), url=url,
                           pii_counts=empty_pii(), run_id=RUN_ID,
                           decision=KEPT if kept else REJECTED,
                           step=None if kept else "sample", reason=None if kept else "not in the test sample")
                prov.append(row)
                if kept:
                    doc = {f.name: None for f in DOCUMENT_SCHEMA}
                    doc.update(doc_id=rid, text=text, url=url, source_file=name, offset=row["offset"],
                               n_chars=len(text), signals=json.dumps({"n_chars": len(text)}), run_id=RUN_ID)
                    docs.append(doc)
        pq.write_table(pa.Table.from_pylist(docs, DOCUMENT_SCHEMA),
                       out / "documents" / f"part-{k:05d}.parquet", **PARQUET_OPTIONS)
        pq.write_table(pa.Table.from_pylist(prov, PROVENANCE_SCHEMA),
                       out / "provenance" / f"part-{k:05d}.parquet", **PARQUET_OPTIONS)
    write_manifest(out, {"run_id": RUN_ID, "kind": "curate", "config": {"steps": ["sample"]}})


def _cached_corpus(request: pytest.FixtureRequest, warc_dir: Path, key: str, per_file: int | None) -> Path:
    root = Path(request.config.cache.mkdir(f"assay-tokenize-v{CORPUS_VERSION}")) / key
    if not (root / "run.json").exists():
        shutil.rmtree(root, ignore_errors=True)
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _build_corpus(tmp, warc_dir, DOCS_WARCS, per_file)
        tmp.rename(root)
    return root


@pytest.fixture(scope="session")
def small_corpus(request: pytest.FixtureRequest, warc_dir: Path) -> Path:
    """40 pages from each documentation WARC (about 700k characters)."""
    return _cached_corpus(request, warc_dir, "small", 40)


@pytest.fixture(scope="session")
def full_corpus(request: pytest.FixtureRequest, warc_dir: Path) -> Path:
    """Every page of the three documentation WARCs (1,961 pages, ~25M characters)."""
    return _cached_corpus(request, warc_dir, "full", None)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("tokens", "_work", "tokenizer.json"))
    return dst


def _documents(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / "documents").glob("*.parquet")))


def _provenance(out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / "provenance").glob("*.parquet")))


def _texts(out: Path) -> list[str]:
    return _documents(out)["text"].to_pylist()


@pytest.fixture(scope="session")
def small_tokenizer(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(_texts(small_corpus), 2000).save(str(path))
    return path


def _fixed_vocab_tokenizer(path: Path, vocab_size: int) -> Path:
    """A byte-level tokenizer with exactly `vocab_size` ids: EOS = 0, fillers, then the 256 byte symbols
    at the top (so every document token is one of the highest ids; a space is id 65,535 in a 65,536
    vocabulary)."""
    alphabet = sorted(set(pre_tokenizers.ByteLevel.alphabet()) - {"Ġ"}) + ["Ġ"]  # "Ġ" (space) on top
    n_fill = vocab_size - 1 - len(alphabet)
    vocab = {EOS_TOKEN: 0}
    vocab.update({f"<fill{i}>": 1 + i for i in range(n_fill)})
    vocab.update({ch: 1 + n_fill + i for i, ch in enumerate(alphabet)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(EOS_TOKEN, special=True)])
    tok.save(str(path))
    return path


# ---------------------------------------------------------------------------- invariants


def assert_corpus_invariants(out: Path, tok_path: Path | None = None) -> TokenShards:
    """The issue's must-hold list: lossless, counts agree, every kept doc present exactly once, nothing
    else."""
    ts = TokenShards(out)
    tok = load_tokenizer(tok_path or out / "tokenizer.json")
    docs = _documents(out)
    text_of = dict(zip(docs["doc_id"].to_pylist(), docs["text"].to_pylist(), strict=True))
    prov = _provenance(out)
    kept = {d for d, dec in zip(prov["doc_id"].to_pylist(), prov["decision"].to_pylist(), strict=True)
            if dec == KEPT}
    manifest = read_manifest(out)["tokenize"]

    seen, col_sum, flat_sum = [], 0, 0
    for path in ts.shard_paths:
        t = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        lens = pa.compute.list_value_length(t["input_ids"]).to_numpy()
        assert (lens == t["n_tokens"].to_numpy()).all()
        assert int(t.schema.metadata[b"assay.n_tokens"]) == int(lens.sum())
        col_sum += int(t["n_tokens"].to_numpy().sum())
        flat_sum += len(pa.compute.list_flatten(t["input_ids"]))
        seen += t["doc_id"].to_pylist()
    assert (col_sum == flat_sum == ts.n_tokens == manifest["n_tokens"]
            == sum(s["n_tokens"] for s in manifest["shards"]))
    assert len(seen) == len(set(seen)) == ts.n_docs == manifest["n_docs"]
    assert set(seen) <= set(text_of)  # every shard doc exists in documents/
    assert set(seen) <= kept  # ... and is `kept` in provenance
    assert set(seen) == set(text_of) & kept  # no kept document is missing
    for i, doc_id in enumerate(seen):
        ids = ts.doc(i)
        assert ts.doc_id(i) == doc_id
        assert tok.decode(ids.tolist(), skip_special_tokens=False) == text_of[doc_id], doc_id
    return ts


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    ("vocab", "dtype"),
    [(256, np.uint16), (65_535, np.uint16), (65_536, np.uint16), (65_537, np.uint32), (100_000, np.uint32)],
)
def test_ids_dtype_boundaries(vocab: int, dtype: type) -> None:
    assert ids_dtype(vocab) == np.dtype(dtype)


@pytest.mark.parametrize(("vocab", "arrow_type"),
                         [(65_535, pa.uint16()), (65_536, pa.uint16()), (100_000, pa.uint32())])
def test_shard_dtype_at_vocab_boundaries(vocab: int, arrow_type: pa.DataType, small_corpus: Path,
                                         tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    tok_path = _fixed_vocab_tokenizer(tmp_path / "tok.json", vocab)
    section = tokenize_corpus(out, TokenizeConfig(tokenizer=tok_path), executor=LocalExecutor(1),
                              progress=False)
    assert section["tokenizer"]["vocab_size"] == vocab
    ts = TokenShards(out)
    assert ts.vocab_size == vocab and ts.eos_id == 0
    schema = pa.ipc.open_file(str(ts.shard_paths[0])).schema
    assert schema.field("input_ids").type == pa.list_(arrow_type)
    assert ts.dtype == arrow_type.to_pandas_dtype()
    ids = ts.tokens(0, ts.n_tokens)
    assert int(ids.max()) == vocab - 1  # the top id is stored, not wrapped
    assert int(ids.min()) >= vocab - 256
    assert_corpus_invariants(out, tok_path)


def test_train_is_deterministic(small_corpus: Path) -> None:
    texts = _texts(small_corpus)
    a, b = train_tokenizer(texts, 1000), train_tokenizer(texts, 1000)
    assert a.to_str() == b.to_str()
    assert a.get_vocab_size() == 1000
    assert a.token_to_id(EOS_TOKEN) == 0
    c = train_tokenizer(texts[::-1][:50], 1000)
    assert c.to_str() != a.to_str()  # the check above could fail: other input, other merges
    with pytest.raises(ValueError, match="too small"):
        train_tokenizer(texts, 100)


def test_tokenize_trained_end_to_end(small_corpus: Path, tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    section = tokenize_corpus(out, TokenizeConfig(vocab_size=1500, shard_tokens=40_000),
                              executor=LocalExecutor(2), progress=False)
    ts = assert_corpus_invariants(out)
    assert len(section["shards"]) == len(ts.shard_paths) > 3
    # every shard but the last reaches the target, and none overshoots by more than one document
    for s, info in zip(range(len(ts.shard_paths) - 1), section["shards"], strict=False):
        assert info["n_tokens"] >= 40_000
        assert info["n_tokens"] - int(ts.doc(int(ts._doc_starts[s + 1]) - 1).size) < 40_000
    assert section["tokenizer"]["sha256"] == sha256_file(out / "tokenizer.json") == ts.tokenizer_sha256
    assert section["tokenizer"]["vocab_size"] == ts.vocab_size == 1500
    assert ts.run_id == RUN_ID and ts.eos_id == 0 and ts.dtype == np.uint16
    assert ([s["sha256"] for s in section["shards"]]
            == [ts.shard_sha256(i) for i in range(len(ts.shard_paths))])
    assert read_manifest(out)["run_id"] == RUN_ID  # the curate manifest is kept, the section added


def test_reader_api(small_corpus: Path, small_tokenizer: Path, tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    tokenize_corpus(out, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=30_000),
                    executor=LocalExecutor(1), progress=False)
    ts = TokenShards(out / "tokens")
    docs = [ts.doc(i) for i in range(ts.n_docs)]
    flat = np.concatenate(docs)
    assert flat.size == ts.n_tokens and len(ts) == ts.n_docs
    # zero-copy: a document is a view into the memory-mapped shard
    assert not docs[5].flags.owndata and not docs[5].flags.writeable
    # random access by global token offset, including ranges that cross documents and shards
    rng = np.random.default_rng(0)
    for start in rng.integers(0, ts.n_tokens - 1, 50).tolist():
        stop = min(ts.n_tokens, start + int(rng.integers(1, 70_000)))
        assert np.array_equal(ts.tokens(start, stop), flat[start:stop])
        d, off = ts.locate(start)
        assert ts.doc(d)[off] == flat[start]
        assert 0 <= off < ts.doc(d).size
    boundary = ts.shard_n_tokens(0)
    assert np.array_equal(ts.tokens(boundary - 3, boundary + 3), flat[boundary - 3 : boundary + 3])
    assert ts.locate(0) == (0, 0) and ts.locate(ts.n_tokens - 1) == (ts.n_docs - 1, docs[-1].size - 1)
    with pytest.raises(IndexError):
        ts.locate(ts.n_tokens)
    # by document id, both ways
    last = ts.n_docs - 1
    s, r = ts.doc_shard(last)
    assert s == len(ts.shard_paths) - 1 and r == ts.shard_n_docs(s) - 1
    assert ts.index_of(ts.doc_id(last)) == last
    with pytest.raises(KeyError):
        ts.index_of("no-such-doc")
    # iteration: shard order, or a seeded permutation that is stable and covers every document once
    ordered = list(ts.iter_docs())
    assert [d for d, _ in ordered] == [ts.doc_id(i) for i in range(ts.n_docs)]
    p1 = [d for d, _ in ts.iter_docs(seed=7)]
    assert p1 == [d for d, _ in ts.iter_docs(seed=7)] != [d for d, _ in ts.iter_docs(seed=8)]
    assert sorted(p1) == sorted(d for d, _ in ordered) and p1 != [d for d, _ in ordered]
    by_id = dict(ordered)
    assert all(np.array_equal(ids, by_id[d]) for d, ids in ts.iter_docs(seed=7))


def test_shards_read_by_plain_pyarrow_and_polars(small_corpus: Path, small_tokenizer: Path,
                                                 tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    tokenize_corpus(out, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=100_000),
                    executor=LocalExecutor(1), progress=False)
    ts = TokenShards(out)
    i = 0
    for path in ts.shard_paths:
        t = pa.ipc.open_file(str(path)).read_all()  # plain pyarrow, no assay code
        df = pl.read_ipc(path)
        assert df.columns == ["doc_id", "input_ids", "n_tokens"]
        assert df.schema["input_ids"] == pl.List(pl.UInt16)
        assert df["doc_id"].to_list() == t["doc_id"].to_pylist()
        assert df["n_tokens"].sum() == int(t.schema.metadata[b"assay.n_tokens"])
        for r in (0, df.height - 1):
            assert df["input_ids"][r].to_list() == ts.doc(i + r).tolist() == t["input_ids"][r].as_py()
        assert t.schema.metadata[b"assay.tokenizer_sha256"].decode() == sha256_file(out / "tokenizer.json")
        assert t.schema.metadata[b"assay.run_id"].decode() == RUN_ID
        assert t.schema.metadata[b"assay.format_version"] == b"1"
        i += df.height
    assert i == ts.n_docs


def test_byte_identical_across_reruns_workers_and_resume(small_corpus: Path, small_tokenizer: Path,
                                                         tmp_path: Path) -> None:
    def shard_bytes(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((out / "tokens").glob("*.arrow"))}

    a = _copy(small_corpus, tmp_path / "a")
    b = _copy(small_corpus, tmp_path / "b")
    tokenize_corpus(a, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=50_000),
                    executor=LocalExecutor(1), progress=False)
    tokenize_corpus(b, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=50_000),
                    executor=LocalExecutor(3), progress=False)
    ref = shard_bytes(a)
    assert len(ref) > 2 and ref == shard_bytes(b)
    # resume: a killed run left one part unfinished (no marker); the rerun redoes only that part
    work = a / "_work" / "tokenize"
    (work / "part-00001.done").unlink()
    before = {p: (work / p).stat().st_mtime_ns for p in ("part-00000.arrow", "part-00002.arrow")}
    section = tokenize_corpus(a, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=50_000),
                              executor=LocalExecutor(2), progress=False)
    assert shard_bytes(a) == ref
    assert before == {p: (work / p).stat().st_mtime_ns for p in before}
    assert (work / "part-00001.done").exists() and section["n_docs"] == TokenShards(a).n_docs
    # another shard size rewrites the shard set and leaves no stale shard behind
    tokenize_corpus(a, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=10**9),
                    executor=LocalExecutor(1), progress=False)
    assert list(shard_bytes(a)) == ["shard-00000.arrow"]


def test_seeded_shuffle(small_corpus: Path, small_tokenizer: Path, tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("plain", None), ("s1", 1), ("s1b", 1), ("s2", 2)):
        out = _copy(small_corpus, tmp_path / name)
        tokenize_corpus(out, TokenizeConfig(tokenizer=small_tokenizer, shard_tokens=60_000,
                                            shuffle_seed=seed),
                        executor=LocalExecutor(1), progress=False)
        ts = assert_corpus_invariants(out)
        runs[name] = ([ts.doc_id(i) for i in range(ts.n_docs)], [p.read_bytes() for p in ts.shard_paths])
    assert runs["s1"] == runs["s1b"]
    assert runs["s1"][0] != runs["plain"][0] and runs["s1"][0] != runs["s2"][0]
    assert sorted(runs["s1"][0]) == sorted(runs["plain"][0])
    # shuffled across shards: the first shard mixes parts that part order keeps apart
    part_of = {d: p.name for p in sorted((small_corpus / "documents").glob("*.parquet"))
               for d in pq.read_table(p, columns=["doc_id"])["doc_id"].to_pylist()}
    first_shard = TokenShards(tmp_path / "s1").shard_n_docs(0)
    assert len({part_of[d] for d in runs["s1"][0][:first_shard]}) == 3
    first_plain = TokenShards(tmp_path / "plain").shard_n_docs(0)
    assert len({part_of[d] for d in runs["plain"][0][:first_plain]}) == 1


def test_only_kept_documents_are_tokenized(small_corpus: Path, small_tokenizer: Path, tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    prov_path = out / "provenance" / "part-00001.parquet"
    prov = pq.read_table(prov_path).to_pylist()
    victim = next(r for r in prov if r["decision"] == KEPT)
    victim.update(decision="taken-down", step="takedown", reason="test")
    pq.write_table(pa.Table.from_pylist(prov, PROVENANCE_SCHEMA), prov_path)
    section = tokenize_corpus(out, TokenizeConfig(tokenizer=small_tokenizer), executor=LocalExecutor(1),
                              progress=False)
    assert section["n_skipped_not_kept"] == 1
    ts = assert_corpus_invariants(out, small_tokenizer)
    with pytest.raises(KeyError):
        ts.index_of(victim["doc_id"])
    assert ts.n_docs == _documents(out).num_rows - 1


def test_special_token_text_is_encoded_as_text(small_corpus: Path, small_tokenizer: Path,
                                               tmp_path: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    part = out / "documents" / "part-00000.parquet"
    rows = pq.read_table(part).to_pylist()
    rows[0]["text"] = f"before {EOS_TOKEN} after\n\u00e9\u4e2d\U0001f600 \x00"
    rows[1]["text"] = ""
    pq.write_table(pa.Table.from_pylist(rows, DOCUMENT_SCHEMA), part)
    tokenize_corpus(out, TokenizeConfig(tokenizer=small_tokenizer), executor=LocalExecutor(1), progress=False)
    ts = assert_corpus_invariants(out, small_tokenizer)
    assert ts.eos_id not in ts.doc(ts.index_of(rows[0]["doc_id"])).tolist()
    assert ts.doc(ts.index_of(rows[1]["doc_id"])).size == 0  # empty documents are kept, with no tokens


def test_bad_tokenizer_files_give_clear_errors(small_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="tokenizer file not found"):
        load_tokenizer(tmp_path / "missing.json")
    (tmp_path / "not.json").write_text('{"hello": "world"}')
    with pytest.raises(InputError, match="not an HF tokenizers tokenizer.json"):
        load_tokenizer(tmp_path / "not.json")
    (tmp_path / "bin.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(InputError, match="not an HF tokenizers tokenizer.json"):
        load_tokenizer(tmp_path / "bin.json")
    out = _copy(small_corpus, tmp_path / "out")
    runner = CliRunner()
    for bad in ("missing.json", "not.json", "bin.json"):
        res = runner.invoke(app, ["tokenize", str(out), "--tokenizer", str(tmp_path / bad)])
        assert res.exit_code == 2, res.output
        assert "error:" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["tokenize", str(out)])
    assert res.exit_code == 2 and "no tokenizer" in res.output
    res = runner.invoke(app, ["tokenize", str(out), "--train-tokenizer"])
    assert res.exit_code == 2
    assert not (out / "tokens").exists()


def test_cli_tokenize_and_trace(small_corpus: Path, small_tokenizer: Path, tmp_path: Path,
                                warc_dir: Path) -> None:
    out = _copy(small_corpus, tmp_path / "out")
    runner = CliRunner()
    res = runner.invoke(app, ["tokenize", str(out), "--tokenizer", str(small_tokenizer),
                              "--shard-tokens", "50000", "--workers", "1"])
    assert res.exit_code == 0, res.output
    ts = TokenShards(out)
    assert f"{ts.n_tokens} tokens" in res.output
    # a user's tokenizer is stored byte for byte
    assert (out / "tokenizer.json").read_bytes() == small_tokenizer.read_bytes()

    s, r = 1, 3
    res = runner.invoke(app, ["trace", str(out), "--shard", str(s), "--row", str(r)])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    doc_id = ts.doc_id(int(ts._doc_starts[s]) + r)
    prov = _provenance(out).filter(pa.compute.equal(_provenance(out)["doc_id"], doc_id)).to_pylist()[0]
    assert got["doc_id"] == doc_id and got["run_id"] == RUN_ID
    assert got["provenance"]["source_file"] == prov["source_file"]
    assert got["provenance"]["offset"] == prov["offset"] and got["provenance"]["url"] == prov["url"]
    assert got["provenance"]["warc_record_id"] == doc_id and got["provenance"]["decision"] == KEPT
    assert got["tokens"]["shard"] == s and got["tokens"]["row"] == r
    assert got["tokens"]["n_tokens"] == ts.doc(ts.index_of(doc_id)).size
    assert got["tokens"]["shard_sha256"] == ts.shard_sha256(s)
    assert got["steps_passed"] == ["sample", "tokenize"]
    # the WARC offset really points at that record
    from warcio.archiveiterator import ArchiveIterator

    with open(warc_dir / prov["source_file"], "rb") as f:
        f.seek(prov["offset"])
        rec = next(iter(ArchiveIterator(f)))
        assert rec.rec_headers.get_header("WARC-Target-URI") == got["provenance"]["url"]

    by_id = json.loads(runner.invoke(app, ["trace", str(out), doc_id]).output)
    assert by_id["tokens"] == got["tokens"] and by_id["provenance"] == got["provenance"]
    assert trace(out, doc_id)["document"]["signals"] == {"n_chars": len(_documents(out).filter(
        pa.compute.equal(_documents(out)["doc_id"], doc_id))["text"][0].as_py())}
    for args in (["--shard", "99", "--row", "0"], ["no-such-doc"], ["--shard", "0"], []):
        res = runner.invoke(app, ["trace", str(out), *args])
        assert res.exit_code == 2 and "error:" in res.output, (args, res.output)


def test_plan_shards() -> None:
    assert plan_shards(np.array([5, 5, 5, 5]), 10) == [(0, 2), (2, 4)]
    assert plan_shards(np.array([12, 1, 1]), 10) == [(0, 1), (1, 3)]
    assert plan_shards(np.array([], dtype=np.int64), 10) == [(0, 0)]
    assert plan_shards(np.array([0, 0, 3]), 3) == [(0, 3)]


@pytest.mark.slow
def test_real_docs_corpora_must_hold(full_corpus: Path, tmp_path: Path) -> None:
    """The issue's acceptance list on all 1,961 pages of the three documentation WARCs."""
    out = _copy(full_corpus, tmp_path / "out")
    section = tokenize_corpus(out, TokenizeConfig(vocab_size=8192, shard_tokens=1_000_000),
                              executor=LocalExecutor(2), progress=False)
    ts = assert_corpus_invariants(out)
    assert ts.n_docs == 530 + 1169 + 262 == section["n_docs"]
    assert len(ts.shard_paths) > 3 and ts.dtype == np.uint16


@pytest.mark.slow
def test_curate_pipeline_with_tokenize_stage(warc_dir: Path, tmp_path: Path) -> None:
    """`assay curate --tokenize` path: the real pipeline's output (filters, dedup, provenance) tokenizes with
    every invariant holding; rejected and duplicate records never reach the shards."""
    from curate import curate, load_config

    cfg = load_config(overrides={"extract.extractor": "resiliparse", "tokenize.enabled": True,
                                 "tokenize.vocab_size": 2048, "tokenize.shard_tokens": 200_000})
    out = tmp_path / "out"
    curate([str(warc_dir / "debian-multilingual-docs.warc.gz")], out, cfg)
    ts = assert_corpus_invariants(out)
    prov = _provenance(out)
    assert 0 < ts.n_docs == prov.filter(pa.compute.equal(prov["decision"], KEPT)).num_rows < prov.num_rows
    assert ts.run_id == read_manifest(out)["run_id"]
    got = trace(out, shard=0, row=0)
    assert got["provenance"]["source_file"].endswith("debian-multilingual-docs.warc.gz")
    assert got["steps_passed"][0] == "read" and got["steps_passed"][-1] == "tokenize"


def test_arrays_round_trip_without_pandas() -> None:
    """curate/tokens/arrays.py reads and builds arrays over their buffers, offsets of slices included."""
    from curate.tokens.arrays import from_numpy, nonzero, strings, to_numpy

    a = np.arange(10, dtype=np.uint16)
    arr = from_numpy(a)
    assert arr.type == pa.uint16() and arr.to_pylist() == a.tolist()
    assert to_numpy(arr.slice(3, 4)).tolist() == [3, 4, 5, 6]
    assert to_numpy(pa.chunked_array([arr.slice(0, 2), arr.slice(8)])).tolist() == [0, 1, 8, 9]
    assert strings(["kept", "", "é"]).to_pylist() == ["kept", "", "é"]
    mask = pa.chunked_array([pa.array([True, False]), pa.array([False, True, True])])
    assert nonzero(mask).tolist() == [0, 3, 4]
    with pytest.raises(ValueError, match="nulls"):
        to_numpy(pa.array([1, None]))


def test_tokenizing_does_not_import_pandas(small_corpus: Path, small_tokenizer: Path, tmp_path: Path) -> None:
    """pyarrow imports pandas on a process's first numpy or Python conversion (0.4-0.5 s, in the stage's
    process and in each encode worker): the stage converts over buffers instead (curate/tokens/arrays.py).
    Run in one fresh process, with a taken-down row and a shuffle, so every conversion path runs."""
    import subprocess
    import sys

    out = _copy(small_corpus, tmp_path / "out")
    prov_path = out / "provenance" / "part-00001.parquet"
    prov = pq.read_table(prov_path).to_pylist()
    next(r for r in prov if r["decision"] == KEPT).update(decision="taken-down", step="takedown", reason="t")
    pq.write_table(pa.Table.from_pylist(prov, PROVENANCE_SCHEMA), prov_path)
    code = "\n".join([
        "import sys",
        "from curate import TokenizeConfig, tokenize_corpus",
        "from curate.exec import LocalExecutor",
        f"cfg = TokenizeConfig(tokenizer={str(small_tokenizer)!r}, shuffle_seed=1)",
        f"s = tokenize_corpus({str(out)!r}, cfg, executor=LocalExecutor(1), progress=False)",
        "print(s['n_skipped_not_kept'], s['n_docs'] > 0, 'pandas' in sys.modules)"])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["1", "True", "False"]
