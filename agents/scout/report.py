"""``sre-space slo``: each declared SLO's standing from Scout's shared state: the SLI over the
budget period, the error budget left, the burn rate over every alert window, and which
multi-window alert fires."""

from __future__ import annotations

from pathlib import Path

from agents.scout.detectors.slo import SLOStatus, slo_status
from agents.scout.service import scout_dir
from agents.scout.state import ScoutState
from agents.scout.symptoms import Clock, wall_clock
from sre_space.config import Settings


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def render_status(statuses: list[SLOStatus]) -> str:
    """A table: one row per SLO, one burn-rate column per alert window."""
    if not statuses:
        return "no SLOs declared (settings: scout.slos)"
    windows = [b.window_s for b in statuses[0].burn]
    head = f"{'SLO':<24} {'SERVICE':<15} {'OBJECTIVE':>9} {'SLI':>8} {'BUDGET LEFT':>11} " + " ".join(
        f"{'burn ' + format(w, 'g') + 's':>10}" for w in windows) + "  ALERT"
    lines = [head]
    for st in statuses:
        alert = "-" if st.firing is None else (
            f"sev:{st.firing.severity} ({st.firing.burn_rate:g}x over {st.firing.long_s:g}s+{st.firing.short_s:g}s)")
        lines.append(
            f"{st.slo.name:<24} {st.slo.service:<15} {st.slo.objective:>9.2%} {_pct(st.sli):>8} "
            f"{_pct(st.budget_remaining):>11} " + " ".join(f"{_burn(b.rate):>10}" for b in st.burn) + f"  {alert}"
        )
    period = statuses[0].period_s
    lines.append(f"budget period {period:g}s; events counted: "
                 + ", ".join(f"{st.slo.name}={st.events:g}" for st in statuses))
    return "\n".join(lines)


def slo_report(settings: Settings, home: Path, clock: Clock = wall_clock) -> str:
    """The SLO table for ``sre-space slo`` (read-only; Scout need not run, but it fills the data)."""
    path = scout_dir(home.resolve()) / "state.db"
    if not path.exists():
        return f"no SLO data yet: Scout has not run with state in {path.parent} (start it with `sre-space agents`)"
    state = ScoutState(path)
    try:
        now = clock()
        return render_status([slo_status(state, slo, settings.scout, now) for slo in settings.scout.slos])
    finally:
        state.close()
