"""Benchmarks: `python -m bench.<name>`, each printing figures and one JSON line."""
