"""Evaluation: the shared Q&A format, metrics, the runner and reports (see evals/README.md)."""
