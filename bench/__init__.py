"""Benchmarks: figures computed from the repo's own definitions (see each module's docstring)."""
