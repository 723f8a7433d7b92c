"""Read Prometheus metrics over HTTP the way a scraper does, parsed by prometheus_client."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

SERVING = re.compile(r"Serving metrics on http://[\d.]+:(\d+)/metrics")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, headers: Mapping[str, str] | None = None) -> Samples:
    """GET ``url`` and return every sample as ``{(name, labels): value}``."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}``, 0 when absent (a counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of every ``name`` sample whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def served_port(output: str) -> int | None:
    """The port a worker's "Serving metrics on ..." log line names, or None before it."""
    found = SERVING.search(output)
    return int(found[1]) if found else None
