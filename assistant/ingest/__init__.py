"""Ingest: files on disk -> documents -> structure-aware chunks -> an index generation."""
