"""Backends that let other task APIs run on django-jobs."""
