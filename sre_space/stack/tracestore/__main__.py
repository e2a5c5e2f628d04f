"""``python -m sre_space.stack.tracestore --db PATH --otlp-port N --query-port M [--ready-file F]``

Runs the embedded trace store until SIGTERM/SIGINT (exit 0). Once both ports listen it prints
one line with its URLs and, with ``--ready-file``, writes them there as JSON (port 0 = any free
port). A port in use is one line on stderr and exit code 3.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from sre_space.errors import SREError
from sre_space.stack.tracestore.params import parse_lookback
from sre_space.stack.tracestore.server import Endpoints, StoreConfig, TraceStore
from sre_space.stack.tracestore.store import Retention


def _seconds(text: str) -> float:
    try:
        return parse_lookback(text) / 1e9
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sre_space.stack.tracestore",
                                description="Embedded trace store: OTLP/HTTP in, SQLite, Jaeger query API out.")
    p.add_argument("--db", type=Path, required=True, help="SQLite file (created if missing)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--otlp-port", type=int, default=4318, help="OTLP/HTTP receiver port (0 = any free)")
    p.add_argument("--query-port", type=int, default=16686, help="Jaeger query API port (0 = any free)")
    p.add_argument("--ready-file", type=Path, help="write the listening ports here as JSON once ready")
    p.add_argument("--max-age", type=_seconds, default=Retention.max_age_s,
                   help="keep spans this long, e.g. 24h, 2d (default 24h)")
    p.add_argument("--max-spans", type=int, default=Retention.max_spans, help="keep at most this many spans")
    return p.parse_args(argv)


def _announce(ready_file: Path | None) -> Callable[[Endpoints], None]:
    def on_ready(endpoints: Endpoints) -> None:
        if ready_file is not None:
            tmp = ready_file.with_name(ready_file.name + ".tmp")
            tmp.write_text(endpoints.to_json())
            tmp.replace(ready_file)  # atomic: a reader never sees half a file
        print(f"trace store ready: OTLP {endpoints.otlp_endpoint} query {endpoints.query_url}", flush=True)

    return on_ready


async def _run(store: TraceStore, ready_file: Path | None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, store.stop)
    await store.serve(_announce(ready_file))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    retention = Retention(max_age_s=args.max_age, max_spans=args.max_spans)
    config = StoreConfig(args.db, args.host, args.otlp_port, args.query_port, retention)
    try:
        asyncio.run(_run(TraceStore(config), args.ready_file))
    except SREError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    finally:
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
