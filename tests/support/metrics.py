"""A dockyard server's /metrics, read the way a Prometheus scraper reads them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples named `name` (as exposed: `..._total`, `..._count`) whose labels
    include `labels`; 0 when there is none."""
    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )
