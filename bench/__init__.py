"""Benchmarks of aitl-reid against named references, measured in one process (``python -m bench.run`` from the repository root)."""
