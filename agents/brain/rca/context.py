"""The incident and baseline windows as tables that share one vocabulary (services, operations,
log templates), so ids compare across the two windows."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np

from agents.brain.rca.logs import LogTable
from agents.brain.rca.table import SpanTable, Vocab
from sre_space.models.window import TelemetryWindow


@dataclass
class Tables:
    """Both windows, columnar. ``op`` ids name ``service\\x00operation``."""

    services: Vocab
    ops: Vocab
    templates: Vocab
    inc: SpanTable
    base: SpanTable
    inc_logs: LogTable
    base_logs: LogTable
    op_service_ids: np.ndarray  # service id of each operation id

    @classmethod
    def build(cls, incident: TelemetryWindow, baseline: TelemetryWindow) -> Tables:
        # Building columns allocates ~10 tuples a span; each allocation burst would trigger the
        # cyclic GC, which then walks every object of the process (the windows included): 5-10x
        # slower. Nothing here creates cycles, so the collector waits until the columns exist.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._build(incident, baseline)
        finally:
            if enabled:
                gc.enable()

    @classmethod
    def _build(cls, incident: TelemetryWindow, baseline: TelemetryWindow) -> Tables:
        services, ops, templates = Vocab(), Vocab(), Vocab()
        inc = SpanTable.build(incident.spans, services, ops)
        base = SpanTable.build(baseline.spans, services, ops)
        inc_logs = LogTable.build(incident.logs, inc, services, templates)
        base_logs = LogTable.build(baseline.logs, base, services, templates)
        op_service_ids = np.zeros(len(ops), np.int64)
        op_service_ids[inc.op] = inc.service
        op_service_ids[base.op] = base.service
        return cls(services, ops, templates, inc, base, inc_logs, base_logs, op_service_ids)

    def operation(self, op: int) -> str:
        return self.ops.names[op].split("\x00", 1)[1]

    def op_service(self, op: int) -> str:
        return self.ops.names[op].split("\x00", 1)[0]

    def event_name(self, event: int) -> str:
        """Events are child operations (even ids) or log templates (odd ids)."""
        if event % 2 == 0:
            service, operation = self.ops.names[event // 2].split("\x00", 1)
            return f"call {service} {operation}"
        service, level, text = self.templates.names[event // 2].split("\x00", 2)
        return f"log {level or 'line'} {text}"

    def example_spans(self, rows: np.ndarray, limit: int = 3) -> list[str]:
        """``trace_id/span_id`` of a few incident spans from distinct traces (evidence refs)."""
        seen: dict[str, str] = {}
        for r in rows[: limit * 8]:
            span = self.inc.spans[int(r)]
            seen.setdefault(span.trace_id, f"{span.trace_id}/{span.span_id}")
            if len(seen) == limit:
                break
        return list(seen.values())
