"""Turning user files into normalized Documents and structure-aware Chunks."""
