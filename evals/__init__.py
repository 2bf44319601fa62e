"""Evaluation data (sets/, draft_topics.jsonl) and a thin entry point: `python -m evals SET.jsonl` is `assistant eval`.
The code lives in assistant.evaluation (format, metrics) and assistant.app (runner, report); see evals/README.md."""
