"""Session fixtures shared by every suite. ``--stack=embedded`` (default) starts embedded
servers on free ports; ``--stack=real`` uses the servers ``.ci/run`` started (env vars)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

# the GitHub stand-in's fixtures (``github_standin``, ``openapi_check``)
pytest_plugins = ["tests.standins.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--stack", choices=["embedded", "real"], default="embedded")


@pytest.fixture(scope="session")
def stack_kind(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--stack"))


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of a running embedded tansu broker on a free port."""
    from sre_space.net import free_port
    from sre_space.stack.broker import EmbeddedBroker

    with EmbeddedBroker(free_port()) as b:
        yield b.bootstrap


@pytest.fixture(scope="module")
def trace_store(tmp_path_factory: pytest.TempPathFactory, stack_kind: str) -> Iterator[object]:
    """A trace store with ``otlp_endpoint`` (…/v1/traces) and ``query_url``: an embedded store in a
    child process on free ports, one per test module; with ``--stack=real`` the Jaeger named by
    ``JAEGER_QUERY_URL`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    import os
    from types import SimpleNamespace

    if stack_kind == "real":
        query, otlp = os.environ.get("JAEGER_QUERY_URL"), os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if not query or not otlp:
            pytest.skip("--stack=real needs JAEGER_QUERY_URL and OTEL_EXPORTER_OTLP_ENDPOINT")
        yield SimpleNamespace(query_url=query.rstrip("/"), otlp_endpoint=otlp.rstrip("/") + "/v1/traces")
        return
    from sre_space.stack.tracestore import TraceStoreProcess

    with TraceStoreProcess(tmp_path_factory.mktemp("tracestore") / "traces.db") as store:
        yield store
