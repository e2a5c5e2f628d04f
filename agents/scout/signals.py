"""What the pipeline remembers per fingerprint between checks: is it firing, for how many checks
in a row has it fired or been healthy, when did it last change state (flapping), and the latest
symptom while it fires (inhibition sources and SLO impact read that)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from agents.scout.symptoms import Clear, Symptom


@dataclass
class SignalState:
    firing: Symptom | None = None
    fires: int = 0  # consecutive checks that found it firing
    healthy: int = 0  # consecutive checks that found it healthy
    last_seen: float = 0.0  # last observation, firing or healthy
    changes: deque[float] = field(default_factory=deque)  # times it switched state
    settling: int | None = None  # key of a resolved incident whose fault it still reflects


class SignalRegistry:
    """Per-fingerprint observation state, fed by every check before the stages run."""

    def __init__(self) -> None:
        self._states: dict[str, SignalState] = {}

    def get(self, fp: str) -> SignalState:
        return self._states.setdefault(fp, SignalState())

    def fire(self, symptom: Symptom) -> SignalState:
        st = self.get(symptom.fingerprint)
        if st.firing is None and st.last_seen:
            st.changes.append(symptom.at)
        st.firing, st.healthy, st.last_seen = symptom, 0, symptom.at
        st.fires += 1
        return st

    def clear(self, clear: Clear) -> SignalState:
        st = self.get(clear.fingerprint)
        if st.firing is not None:
            st.changes.append(clear.at)
        st.firing, st.fires, st.last_seen, st.settling = None, 0, clear.at, None
        st.healthy += 1
        return st

    def flapping(self, fp: str, now: float, changes: int, window_s: float) -> bool:
        st = self._states.get(fp)
        if st is None:
            return False
        while st.changes and st.changes[0] < now - window_s:
            st.changes.popleft()
        return len(st.changes) >= changes

    def expire(self, now: float, after_s: float) -> None:
        """A signal nobody reported for ``after_s`` stops firing (its detector lost sight of it)."""
        for st in self._states.values():
            if st.firing is not None and now - st.last_seen > after_s:
                st.firing, st.fires = None, 0

    def firing(self) -> Iterator[Symptom]:
        for st in self._states.values():
            if st.firing is not None:
                yield st.firing
