"""The OpenAI-compatible HTTP API (`assistant api`); see app.py for the endpoints and the citations field."""
