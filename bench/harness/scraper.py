"""A Prometheus-like scraper of resumer's `/metrics`, and the request count of an exposition."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.request
from typing import Any, Self

from prometheus_client.parser import text_string_to_metric_families

from bench.harness.arrivals import percentile

SCRAPE_EVERY = 1.0  # seconds between two GETs of /metrics
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


class Scraper:
    """`with Scraper(url) as s:` GETs `url` every SCRAPE_EVERY seconds from a thread meanwhile.

    A GET refused (before resumer listens, or after it stopped) is not counted; the last
    successful one holds the run's final state, since resumer keeps serving until it is read.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.took_ms: list[float] = []
        self.last = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scraper", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(max(due - time.monotonic(), 0.0)):
            due += SCRAPE_EVERY  # a fixed grid, as Prometheus keeps its scrape interval
            self._scrape()

    def _scrape(self) -> None:
        began = time.monotonic()
        try:
            body = get(self.url)
        except (OSError, http.client.HTTPException):  # refused, reset, or cut short
            return
        self.took_ms.append(1000 * (time.monotonic() - began))
        self.last = body

    def figures(self) -> dict[str, Any]:
        """How many scrapes, how long they took, the size of the last, and its request count."""
        return {
            "scrapes": len(self.took_ms),
            "scrape_p50_ms": round(percentile(self.took_ms, 50), 1),
            "scrape_max_ms": round(max(self.took_ms, default=0.0), 1),
            "scrape_kb": round(len(self.last.encode()) / 1024, 1),
            "requests_in_last_scrape": requests_total(self.last),
        }


def get(url: str) -> str:
    with _HTTP.open(url, timeout=10) as reply:
        text: str = reply.read().decode()
        return text


def requests_total(exposition: str) -> int:
    """The sum of every `resumer_requests_total` sample of a Prometheus text exposition."""
    return round(
        sum(
            sample.value
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
            if sample.name == "resumer_requests_total"
        )
    )
