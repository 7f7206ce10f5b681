"""Benchmarks that measure against a baseline taken in the same run; ``python -m bench``."""
