"""Stage 2, search: embeddings (embed), the Chroma store and its active version (store), the
incremental, atomic index run (index), and hybrid BM25 + dense retrieval (retrieve)."""
