"""Smoke tests of ``make bench`` (tools/bench.py): the quick path runs and reports every figure."""
