"""Benchmarks for django-jobs; run as scripts, never collected by the test suite (see README.md)."""
