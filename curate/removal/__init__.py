"""Takedown: a new corpus version without the documents a request names (`assay takedown`).

`request` turns a selector (domain, URL regex, doc_id list) into a row filter and a request id;
`new_version.takedown` writes the new version (re-tokenized with the parent's tokenizer);
`affected` finds the parent's shards that held the documents and the training runs that read them.
"""
