"""Benchmarks: `python -m bench.<name>`, each printing figures and a final JSON line."""
