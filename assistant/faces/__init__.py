"""Faces: the command line, the Gradio UI and the HTTP API. They call only assistant.app and assistant.core."""
