"""Small real fixtures for tests and benchmarks: a seeds corpus from a WARC file and a random Llama.

Not part of the pipeline. They let synth be exercised before (or without) the
curate pipeline and the trainer: the seeds are real web text (warcio +
trafilatura), the model is a randomly initialised `LlamaForCausalLM` with a
byte-level BPE tokenizer trained on that text, saved in the HF layout the
trainer's export uses, so vLLM and transformers both load it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synth.corpus import write_documents


def warc_texts(warc_path: str | Path, limit: int | None = None, min_chars: int = 200) -> list[dict]:
    """Main text of the HTML response records of a WARC file (resiliparse's main-content
    extractor: fast enough for test fixtures; the pipeline itself uses trafilatura)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from warcio.archiveiterator import ArchiveIterator

    out: list[dict] = []
    with open(warc_path, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type != "response":
                continue
            ctype = (rec.http_headers.get_header("Content-Type") or "") if rec.http_headers else ""
            if "html" not in ctype:
                continue
            html = rec.content_stream().read()
            text = extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=True)
            if not text or len(text) < min_chars:
                continue
            rid = rec.rec_headers.get_header("WARC-Record-ID")
            out.append({"doc_id": rid, "text": text, "url": rec.rec_headers.get_header("WARC-Target-URI")})
            if limit and len(out) >= limit:
                break
    return out


def write_corpus(docs: list[dict], out_dir: str | Path, source: str = "fixture") -> Path:
    """Write documents in the curated-corpus layout (documents/part-00000.parquet + run.json)."""
    run_id = "fixture-" + hashlib.sha256(json.dumps([d["doc_id"] for d in docs]).encode()).hexdigest()[:12]
    rows = [{**d, "source_file": source, "signals": "{}"} for d in docs]
    return write_documents(rows, out_dir, run_id, {"kind": "fixture"})


def train_bpe(texts: list[str], out_dir: str | Path, vocab_size: int = 2048):
    """Byte-level BPE tokenizer (HF tokenizers) saved as a PreTrainedTokenizerFast with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.save_pretrained(str(out_dir))
    return fast


def random_llama(out_dir: str | Path, texts: list[str], vocab_size: int = 2048, hidden: int = 128,
                 layers: int = 2, heads: int = 2, intermediate: int = 256, max_pos: int = 1024,
                 seed: int = 0) -> Path:
    """A randomly initialised LlamaForCausalLM + BPE tokenizer in HF format (head size = hidden/heads,
    which vLLM-CPU needs to be 32, 64, 80, 96, 112 or 128)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_bpe(texts, out, vocab_size)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      max_position_embeddings=max_pos, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(str(out), safe_serialization=True)
    return out
