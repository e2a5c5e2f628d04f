"""The embedded trace store: OTLP/HTTP in, SQLite (WAL) inside, Jaeger's query API out.

Run it with ``python -m sre_space.stack.tracestore`` (see ``__main__``), as a child process with
``TraceStoreProcess`` or on a thread of this process with ``TraceStoreThread``. DESIGN §8.3; the
HTTP answers reproduce Jaeger v2.13's (``fixtures/jaeger/README.md``).
"""

from sre_space.stack.tracestore.process import TraceStoreProcess
from sre_space.stack.tracestore.server import Endpoints, StoreConfig, TraceStore, TraceStoreThread
from sre_space.stack.tracestore.store import Retention

__all__ = ["Endpoints", "Retention", "StoreConfig", "TraceStore", "TraceStoreProcess", "TraceStoreThread"]
