"""Incidents in the tracker: applies the pipeline's effects through the ``Tracker`` port (open,
update, comment, resolve, reopen), keeps the labels in step (``incident``, ``sev:N``,
``service:<primary>``, one ``fp:`` label per fingerprint, ``recurring``, ``status:resolved``),
publishes a work item for every material change, and rebuilds the book from the tracker.

Tracker errors never drop an incident: effects wait in order in a queue, and a
``TrackerUnavailable`` stops the flush until the next tick (the GitHub backend adds its own
persistent outbox and hands back provisional negative numbers, resolved here later). Should Scout
itself die with effects queued, the symptoms that caused them are still firing and the new leader
opens or updates the incident again from them.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime

from agents.scout.book import IncidentBook, IncidentState, TrackedIncident
from agents.scout.publish import WorkPublisher
from agents.scout.stages.base import Effect, EffectKind
from agents.scout.symptoms import Clock
from sre_space.adapters.tracker.base import Tracker, TrackerRejected, TrackerUnavailable
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from sre_space.models.incident import (
    Label,
    Status,
    fingerprint_label,
    parse_post,
    render_post,
    service_label,
    sev_label,
    status_label,
)

log = logging.getLogger(__name__)
AGENT = "scout"
RECURRING = "recurring"
MANAGED = ("sev:", "service:", "fp:")
SYNC_EVERY_S = 15.0


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def title(inc: TrackedIncident) -> str:
    text = inc.summary or f"{inc.service}: {inc.signal}"
    return text if len(text) <= 120 else text[:117] + "..."


def labels(inc: TrackedIncident) -> set[str]:
    wanted = {Label.INCIDENT.value, sev_label(inc.severity), service_label(inc.service)}
    wanted |= {fingerprint_label(fp) for fp in inc.fingerprints}
    if inc.recurrences:
        wanted.add(RECURRING)
    if inc.state == IncidentState.RESOLVED:
        wanted.add(status_label(Status.RESOLVED))
    return wanted


def body(inc: TrackedIncident) -> str:
    """The readable summary followed by the machine-readable block (``render_post``); when that
    would exceed the tracker's limit, the evidence and the per-symptom lines are left out."""
    try:
        return _body(inc, full=True)
    except ValueError:
        return _body(inc, full=False)


def _body(inc: TrackedIncident, full: bool) -> str:
    rows = [("service", inc.service), ("signal", inc.signal), ("fingerprint", f"`{inc.fingerprint}`"),
            ("severity", f"sev:{inc.severity}"), ("state", inc.state.value), ("opened", _iso(inc.opened_at)),
            ("resolved", _iso(inc.resolved_at)), ("occurrences", str(inc.count)),
            ("recurrences", str(inc.recurrences)), ("flapping", "yes" if inc.flapping else "no")]
    lines = [f"**{inc.summary}**", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    if full:
        lines += ["", "Symptoms:", *(f"- `{fp}`: seen {s.count}x, last {_iso(s.last)}: {s.summary}"
                                     for fp, s in inc.fingerprints.items())]
        if inc.related:
            lines += ["", "Explained by this incident (inhibited):",
                      *(f"- `{fp}`: {n}x" for fp, n in sorted(inc.related.items()))]
    data = inc.to_data()
    if not full:
        data["evidence"] = {"omitted": "too large for the tracker"}
        for seen in data["fingerprints"].values():
            seen["summary"] = seen["summary"][:100]
    return render_post(AGENT, "\n".join(lines), data)


class IncidentDesk:
    """Applies effects to the tracker in order; never drops one."""

    def __init__(self, tracker: Tracker, book: IncidentBook, publisher: WorkPublisher | None, clock: Clock) -> None:
        self.tracker, self.book, self.publisher, self.clock = tracker, book, publisher, clock
        self.queue: deque[Effect] = deque()
        self.unpublished: deque[tuple[int, WorkItemKind]] = deque()
        self._labels: dict[int, set[str]] = {}
        self._synced = 0.0
        self._failing = False

    # --- applying effects

    def submit(self, effects: list[Effect]) -> None:
        self.queue.extend(effects)
        self.flush()

    def flush(self) -> None:
        """Apply queued effects in order until the tracker fails; publish what became known."""
        while self.queue:
            effect = self.queue[0]
            try:
                self._apply(effect)
            except TrackerUnavailable as exc:
                if not self._failing:
                    log.warning("tracker unavailable, %d change(s) wait: %s", len(self.queue), exc)
                self._failing = True
                break
            except TrackerRejected as exc:
                log.error("tracker rejected %s of incident %s: %s", effect.kind.value, effect.key, exc)
            self.queue.popleft()
            self._failing = False
        self._resolve_provisional()
        self._publish()

    def _apply(self, effect: Effect) -> None:
        inc = self.book.incidents.get(effect.key)
        if inc is None:
            return
        if effect.kind == EffectKind.OPEN:
            wanted = labels(inc)
            issue = self.tracker.create_issue(title(inc), body(inc), sorted(wanted))
            inc.number, self._labels[inc.key] = issue.number, wanted
            log.info("opened incident #%s %s (%s)", issue.number, inc.fingerprint, inc.summary)
        elif inc.number is None:
            return  # its creation was rejected: there is nothing to change
        elif effect.kind == EffectKind.UPDATE:
            self._write(inc)
        elif effect.kind == EffectKind.COMMENT:
            self._comment(inc, effect.text)
        elif effect.kind == EffectKind.RESOLVE:
            self._write(inc)
            self._comment(inc, effect.text)
            self.tracker.close(inc.number)
            log.info("resolved incident #%s %s", inc.number, inc.fingerprint)
        elif effect.kind == EffectKind.REOPEN:
            self.tracker.reopen(inc.number)
            self._write(inc)
            self._comment(inc, effect.text)
            log.info("reopened incident #%s %s (recurrence %d)", inc.number, inc.fingerprint, inc.recurrences)
        if effect.work is not None:
            self.unpublished.append((inc.key, effect.work))

    def _write(self, inc: TrackedIncident) -> None:
        assert inc.number is not None
        self.tracker.update(inc.number, title=title(inc), body=body(inc))
        wanted, have = labels(inc), self._labels.get(inc.key, set())
        if wanted - have:
            self.tracker.add_labels(inc.number, sorted(wanted - have))
        for stale in sorted(have - wanted):
            if stale.startswith(MANAGED) or stale in (RECURRING, status_label(Status.RESOLVED)):
                self.tracker.remove_label(inc.number, stale)
        self._labels[inc.key] = wanted

    def _comment(self, inc: TrackedIncident, text: str) -> None:
        assert inc.number is not None
        data = {"event": "update", "fingerprint": inc.fingerprint, "severity": inc.severity, "count": inc.count,
                "recurrences": inc.recurrences, "state": inc.state.value}
        self.tracker.comment(inc.number, render_post(AGENT, text, data))

    def _resolve_provisional(self) -> None:
        """GitHub's outbox numbers are negative until the issue exists: ask for the real one."""
        for inc in self.book.incidents.values():
            if inc.number is not None and inc.number < 0:
                try:
                    inc.number = self.tracker.get_issue(inc.number).number
                except (TrackerUnavailable, TrackerRejected):
                    continue

    def _publish(self) -> None:
        while self.unpublished:
            key, kind = self.unpublished[0]
            inc = self.book.incidents.get(key)
            if inc is not None and (inc.number is None or inc.number < 0):
                break  # wait for the real number, keeping the order
            self.unpublished.popleft()
            if inc is not None and self.publisher is not None:
                self.publisher.publish(IncidentWorkItem(
                    incident=inc.number or 0, kind=kind, fingerprint=inc.fingerprint, service=inc.service,
                    signal=inc.signal, severity=inc.severity, time=datetime.fromtimestamp(self.clock(), UTC),
                    summary=inc.summary[:500],
                ))
        if self.publisher is not None:
            self.publisher.flush()

    # --- the tracker as the source of truth

    def rebuild(self, now: float, recurrence_window_s: float) -> list[TrackedIncident]:
        """Scout's incidents from the tracker: the open ones and those resolved recently enough to
        recur. Raises ``TrackerUnavailable`` when the tracker cannot be read."""
        found = []
        issues = self.tracker.list_issues("open", [Label.INCIDENT.value]) + [
            i for i in self.tracker.list_issues("closed", [Label.INCIDENT.value])
            if i.closed_at is not None and i.closed_at.timestamp() >= now - recurrence_window_s
        ]
        for issue in issues:
            post = parse_post(issue.body)
            if post is None or post.agent != AGENT or post.data.get("kind") != "incident":
                continue
            try:
                inc = TrackedIncident.from_data(self.book.new_key(), issue.number, post.data)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("incident #%s has an unreadable machine block: %s", issue.number, exc)
                continue
            if issue.state.value == "closed":
                inc.state = IncidentState.RESOLVED
                inc.resolved_at = issue.closed_at.timestamp() if issue.closed_at else now
            else:
                inc.state, inc.resolved_at = IncidentState.OPEN, None
            inc.last_comment_at = now
            self._labels[inc.key] = set(issue.labels)
            found.append(inc)
        return found

    def sync(self, now: float) -> None:
        """Notice incidents closed by someone else (the workflow, a person): they are resolved in
        the book too, so a recurrence reopens them instead of counting on a closed issue."""
        if now - self._synced < SYNC_EVERY_S or self.queue:
            return
        self._synced = now
        try:
            still_open = {i.number for i in self.tracker.list_issues("open", [Label.INCIDENT.value])}
        except TrackerUnavailable:
            return
        for inc in self.book.open():
            if inc.number is not None and inc.number > 0 and inc.number not in still_open:
                inc.state, inc.resolved_at = IncidentState.RESOLVED, now
                log.info("incident #%s was closed in the tracker; a recurrence will reopen it", inc.number)
