"""A diagnosis as the readable part of Brain's post on the incident: summary, who decided, an
evidence table, example traces (linked to the Jaeger UI when a Jaeger URL is configured) and
what was missing. The machine-readable block is added by the timeline."""

from __future__ import annotations

from sre_space.models.diagnosis import Diagnosis

MAX_ROWS = 8
MAX_TRACES = 3


def _cell(text: object, width: int = 90) -> str:
    out = " ".join(str(text).split()).replace("|", "\\|")
    return out if len(out) <= width else out[: width - 1] + "…"


def _value(v: float | None) -> str:
    return "–" if v is None else f"{v:.3g}"


def trace_links(diagnosis: Diagnosis, jaeger_url: str | None) -> list[str]:
    """Markdown for a few example trace ids of the top candidates' evidence."""
    ids = list(dict.fromkeys(
        ref.split("/")[0] for c in diagnosis.candidates[:3] for e in c.evidence for ref in e.refs
        if len(ref.split("/")[0]) == 32 and all(ch in "0123456789abcdef" for ch in ref.split("/")[0])
    ))[:MAX_TRACES]
    base = jaeger_url.rstrip("/") if jaeger_url else None
    return [f"[`{t}`]({base}/trace/{t})" if base else f"`{t}`" for t in ids]


def render_diagnosis(diagnosis: Diagnosis, jaeger_url: str | None = None) -> str:
    """Readable markdown of ``diagnosis`` (bounded: at most ``MAX_ROWS`` evidence rows)."""
    cls = diagnosis.fault_class.value if diagnosis.fault_class else "unknown"
    top = diagnosis.top
    lines = [
        diagnosis.summary or "no summary",
        "",
        f"Root cause: **{top.service if top else 'unknown'}**"
        f"{f' ({top.operation})' if top and top.operation else ''}, fault class **{cls}**, "
        f"confidence {diagnosis.confidence:.2f}{' (inconclusive)' if diagnosis.inconclusive else ''}, "
        f"decided by **{diagnosis.decided_by.value}**.",
    ]
    if diagnosis.action:
        lines.append(f"Suggested action: {diagnosis.action}.")
    if diagnosis.what_would_change_my_mind:
        lines.append(f"What would change this: {diagnosis.what_would_change_my_mind}")
    rows = [(c, e) for c in diagnosis.candidates[:3] for e in c.evidence][:MAX_ROWS]
    if rows:
        lines += ["", "| service | class | signal | baseline | incident | detail |", "|---|---|---|---|---|---|"]
        lines += [f"| {c.service} | {c.fault_class.value} | {e.signal} | {_value(e.baseline)} | "
                  f"{_value(e.incident)} {e.unit} | {_cell(e.detail)} |" for c, e in rows]
    others = ", ".join(f"{c.service} ({c.score:.1f})" for c in diagnosis.candidates[1:5])
    if others:
        lines += ["", f"Other candidates: {others}."]
    links = trace_links(diagnosis, jaeger_url)
    if links:
        lines += ["", "Example traces: " + ", ".join(links)]
    if diagnosis.notes:
        lines += ["", "Notes: " + "; ".join(_cell(n, 200) for n in diagnosis.notes)]
    return "\n".join(lines)
