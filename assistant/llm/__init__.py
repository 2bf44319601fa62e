"""LLM: chat models behind the ChatModel protocol, prompt files, and the local llama-server."""
