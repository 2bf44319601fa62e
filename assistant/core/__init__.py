"""Core: types, errors, settings and the protocols every backend implements. Imports nothing of the assistant."""
