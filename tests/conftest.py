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
