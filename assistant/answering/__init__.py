"""Turning retrieved hits into grounded answers: extractive, LLM-backed, and the shared citation verifier."""
