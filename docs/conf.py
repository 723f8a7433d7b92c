"""Sphinx configuration for the documentation site (``make docs``; Read the Docs runs the same).

The pages are Markdown, read by MyST; the API reference comes from the docstrings (autodoc).
``make docs`` builds with warnings as errors, so a broken link or anchor, a page left out of the
table of contents, or an include whose file or marker is gone fails the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django_jobs  # noqa: E402

# autodoc imports the modules, and models need the app registry: a minimal project is enough.
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_jobs"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
)
django.setup()

project = "django-durable-jobs"
author = "the django-durable-jobs developers"
copyright = "2026, the django-durable-jobs developers"
release = django_jobs.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinxcontrib.mermaid"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Links such as [settings](../reference/settings.md#keys) resolve to the heading's anchor, as on
# GitHub; a missing page or anchor is a warning, hence an error in make docs.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]
# ```mermaid blocks (the job lifecycle's state diagram) render as diagrams, as they do on GitHub.
myst_fence_as_directive = ["mermaid"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

html_theme = "furo"
html_title = f"django-durable-jobs {release}"
