"""Where Scout looks: the running stack's state file and control API, the services' HTTP
endpoints, the trace query API and the Kafka bootstrap address.

Everything is read through this one seam so detectors take plain callables and stay testable.
A missing stack is not an error here: callers get ``None`` and report ``no_data``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from sre_space.config import Settings
from sre_space.errors import ConfigError, SREError
from sre_space.models.fleet import FleetSpec, load_fleet
from sre_space.stack.launcher import control
from sre_space.stack.state import read_state

log = logging.getLogger(__name__)
INFRA = {"broker", "traces", "control"}


class StackSources:
    """Reads the stack that ``sre-space up`` started in ``home`` (or the endpoints the settings name)."""

    def __init__(self, settings: Settings, home: Path, probe_timeout_s: float = 1.0) -> None:
        self.settings, self.home = settings, home
        self._http = httpx.Client(timeout=probe_timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="scout-probe")
        self._fleet: FleetSpec | None = None

    def fleet(self) -> FleetSpec | None:
        """The desired fleet (dependencies, replicas); None when the fleet file is unreadable."""
        if self._fleet is None:
            try:
                self._fleet = load_fleet(self.settings.fleet_file)
            except ConfigError as exc:
                log.warning("no fleet description: %s", exc)
        return self._fleet

    def _components(self) -> dict[str, str]:
        state = read_state(self.home)
        return {c.name: c.url for c in state.components if c.url} if state else {}

    def service_urls(self) -> dict[str, str]:
        """Base URL of every fleet service with an HTTP port, from the stack's state file."""
        return {name: url for name, url in self._components().items() if name not in INFRA}

    def kafka_bootstrap(self) -> str | None:
        if self.settings.kafka_bootstrap_servers:
            return self.settings.kafka_bootstrap_servers
        url = self._components().get("broker", "")
        return url.removeprefix("kafka://") or None

    def trace_url(self) -> str | None:
        if self.settings.jaeger_query_url:
            return self.settings.jaeger_query_url.rstrip("/")
        url = self._components().get("traces")
        return url if url and url.startswith("http") else None

    def status(self) -> dict[str, Any] | None:
        """The control API's ``/status`` (runtime state of every instance), None without a stack."""
        try:
            result = control(self.home, "GET", "/status")
        except SREError as exc:
            log.debug("control API unavailable: %s", exc)
            return None
        return result if isinstance(result, dict) else None

    def probe(self, url: str) -> bool:
        """True when ``url`` answers 2xx within the probe timeout."""
        try:
            return self._http.get(url).is_success
        except httpx.HTTPError:
            return False

    def probe_all(self, urls: list[str]) -> dict[str, bool]:
        """Probe concurrently: one hung service must not delay the verdict on the others."""
        return dict(zip(urls, self._pool.map(self.probe, urls), strict=True))

    def scrape(self, url: str) -> str | None:
        """The text of ``url`` (a /metrics page), None when it does not answer 2xx."""
        try:
            resp = self._http.get(url)
        except httpx.HTTPError:
            return None
        return resp.text if resp.is_success else None

    def scrape_all(self, urls: dict[str, str]) -> dict[str, str | None]:
        names = list(urls)
        return dict(zip(names, self._pool.map(self.scrape, [urls[n] for n in names]), strict=True))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()
