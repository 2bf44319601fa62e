"""Gradio web UI: chat with citations, knowledge-base management, and tabs added by other features."""
