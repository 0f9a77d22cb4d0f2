"""Tokens: kept documents -> Arrow token shards that keep every doc_id, the shard reader, and tracing back.

`stage.tokenize_documents` runs `encode.encode_task` per documents part through the executor it
is handed, then `shards.write_shards`; `reader.TokenShards` is the trainer's view of the shards;
`origin.trace` follows a token back to its WARC record. Knows nothing of reading, filters or dedup.
"""
