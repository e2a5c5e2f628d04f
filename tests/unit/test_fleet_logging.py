"""JSON log lines: one object per line, with trace and span ids when a span is active."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from services.common.logging import JsonFormatter, setup_logging


def record(msg: str, *args: object, exc: BaseException | None = None, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("services.test", logging.WARNING, __file__, 1, msg, args,
                            (type(exc), exc, exc.__traceback__) if exc else None)
    rec.__dict__.update(extra)
    return rec


def test_line_without_a_span() -> None:
    doc = json.loads(JsonFormatter("quote-service", "q-0").format(record("priced %s", "q1", quote_id="q1")))
    assert doc["message"] == "priced q1" and doc["level"] == "WARNING" and doc["service"] == "quote-service"
    assert doc["instance"] == "q-0" and doc["quote_id"] == "q1" and doc["logger"] == "services.test"
    assert doc["ts"].endswith("+00:00") and "trace_id" not in doc


def test_line_inside_a_span_carries_its_ids() -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        doc = json.loads(JsonFormatter("frontend").format(record("hello")))
        ctx = span.get_span_context()
    assert doc["trace_id"] == format(ctx.trace_id, "032x") and doc["span_id"] == format(ctx.span_id, "016x")


def test_exception_becomes_error_and_stack() -> None:
    try:
        raise ValueError("bad premium")
    except ValueError as exc:
        doc = json.loads(JsonFormatter("policy-service").format(record("failed", exc=exc)))
    assert doc["error"] == "ValueError: bad premium" and "Traceback" in doc["stack"]


def test_setup_routes_every_logger_to_one_json_stream() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        setup_logging("user-service", "u-0", "INFO", stream=stream)
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42, extra={"color_message": "x"})
        logging.getLogger("httpx").info("HTTP Request: GET /health")  # quietened: below WARNING
        lines = stream.getvalue().splitlines()
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["message"] == "Started server process [42]" and "color_message" not in doc
