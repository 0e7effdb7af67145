"""Name resolution patch for child processes (see sitecustomize.py).

This file only makes the directory importable from tests; children get the directory
itself on PYTHONPATH, where this file plays no part.
"""
