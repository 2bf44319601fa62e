"""Evaluation data and measures: the Q&A set format, retrieval/answer metrics, gate fitting."""
