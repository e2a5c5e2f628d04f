"""Runtime flags file: re-read on change at most every 0.5 s; memory held at the asked rate."""

from __future__ import annotations

import json
import os
from pathlib import Path

from services.common.flags import MB, FlagStore, MemoryBallast


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, flags: dict[str, object], mtime_ns: int) -> None:
    path.write_text(json.dumps(flags))
    os.utime(path, ns=(mtime_ns, mtime_ns))  # distinct mtimes, whatever the filesystem's resolution


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    store = FlagStore(tmp_path / "absent.json", clock=FakeClock())
    flags = store.current()
    assert flags.extra_latency_ms == 0 and flags.error_rate == 0 and flags.purchase_rule is None


def test_change_is_seen_after_the_check_interval_only(tmp_path: Path) -> None:
    path, clock = tmp_path / "flags.json", FakeClock()
    write(path, {"extra_latency_ms": 100}, 1_000_000_000)
    store = FlagStore(path, clock=clock)
    assert store.current().extra_latency_ms == 100
    write(path, {"extra_latency_ms": 800, "error_rate": 0.5}, 2_000_000_000)
    clock.now = 0.4
    assert store.current().extra_latency_ms == 100  # not re-checked yet
    clock.now = 0.5
    flags = store.current()
    assert flags.extra_latency_ms == 800 and flags.error_rate == 0.5


def test_removing_the_file_restores_defaults(tmp_path: Path) -> None:
    path, clock = tmp_path / "flags.json", FakeClock()
    write(path, {"memory_growth_mb_per_s": 40}, 1_000_000_000)
    store = FlagStore(path, clock=clock)
    assert store.current().memory_growth_mb_per_s == 40
    path.unlink()
    clock.now = 1.0
    assert store.current().memory_growth_mb_per_s == 0


def test_unreadable_file_keeps_previous_values(tmp_path: Path) -> None:
    path, clock = tmp_path / "flags.json", FakeClock()
    write(path, {"error_rate": 0.2, "unknown_key": 1}, 1_000_000_000)
    store = FlagStore(path, clock=clock)
    assert store.current().error_rate == 0.2
    path.write_text('{"error_rate": ')  # half-written
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    clock.now = 1.0
    assert store.current().error_rate == 0.2
    write(path, {"error_rate": 7}, 3_000_000_000)  # out of range: also rejected
    clock.now = 2.0
    assert store.current().error_rate == 0.2


def test_overrides_for_policy_and_pricing(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write(path, {"purchase_rule": "manual_review", "max_policy_premium": 1, "pricing_model": "discount"}, 10**9)
    flags = FlagStore(path, clock=FakeClock()).current()
    assert (flags.purchase_rule, flags.max_policy_premium, flags.pricing_model) == ("manual_review", 1, "discount")


def test_ballast_allocates_at_the_rate_and_releases_at_zero() -> None:
    clock = FakeClock()
    ballast = MemoryBallast(clock=clock)
    assert ballast.tick(4) == 0  # first tick starts the meter
    clock.now = 0.25
    assert ballast.tick(4) == MB
    clock.now = 1.0
    ballast.tick(4)
    assert ballast.held_bytes == 4 * MB
    assert ballast.tick(0) == 0 and ballast.held_bytes == 0
