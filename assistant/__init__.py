"""Offline Chinese retrieval assistant for Party conduct and discipline work.

Layers, each importing only those below it (checked by import-linter, see pyproject.toml):
faces (cli, ui, api) → app → drafting → answering, evaluation → ingest → index → llm → text → core.
"""
