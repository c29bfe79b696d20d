"""Benchmarks of aitl-reid against named references, measured in one process (``python bench/run.py``)."""
