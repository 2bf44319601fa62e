"""Index: the chroma store, embedders, query understanding and retrieval over an ingested knowledge base."""
