"""Thin entry point: `python -m ingest [--knowledge-dir DIR]` is `assistant ingest`. The code lives in assistant.ingest."""
