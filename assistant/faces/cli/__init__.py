"""The `assistant` command line."""
