"""App: the composition root and the service facades that every face (CLI, UI, API) calls."""
