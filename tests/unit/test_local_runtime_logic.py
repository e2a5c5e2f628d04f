"""Pure pieces of the runtimes: exit classification, backoff, cgroup paths, log tails, engine times."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sre_space.adapters.runtime.cgroups import controller_dir, wrap
from sre_space.adapters.runtime.logtail import tail_lines
from sre_space.adapters.runtime.supervisor import Backoff, classify_exit


@pytest.mark.parametrize(
    ("returncode", "evidence", "expected"),
    [
        (3, False, (3, False)),  # an ordinary crash
        (0, False, (0, False)),  # a clean exit
        (-9, True, (137, True)),  # SIGKILL with cgroup/watchdog evidence: the OOM kill
        (-9, False, (137, False)),  # SIGKILL by someone else: not an OOM
        (137, True, (137, True)),  # a shell reporting its OOM-killed child
        (-15, True, (143, False)),  # SIGTERM is never an OOM, whatever the counters say
        (1, True, (1, False)),  # evidence without a kill: the process exited on its own
    ],
)
def test_classify_exit(returncode: int, evidence: bool, expected: tuple[int, bool]) -> None:
    assert classify_exit(returncode, evidence) == expected


def test_backoff_doubles_caps_and_resets_after_a_long_run() -> None:
    backoff = Backoff(initial=0.5, maximum=2.0, reset_after=10.0)
    assert [backoff.delay(0.1) for _ in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert backoff.delay(30.0) == 0.5  # it ran long enough: a fresh crash starts over
    assert backoff.delay(0.1) == 1.0


HOST_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
CONTAINER_MOUNTS = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"


@pytest.mark.parametrize(
    ("controller", "mounts", "proc_cgroup", "expected"),
    [
        # root cgroup on a v1 host: /sys/fs/cgroup/memory itself
        ("memory", HOST_MOUNTS, "4:memory:/\n", "/sys/fs/cgroup/memory"),
        # nested group: created below it, so the fleet stays inside our accounting
        ("memory", HOST_MOUNTS, "4:memory:/process_api/x\n", "/sys/fs/cgroup/memory/process_api/x"),
        # co-mounted controllers are found by either name
        ("cpu", HOST_MOUNTS, "1:cpu,cpuacct:/a\n", "/sys/fs/cgroup/cpu,cpuacct/a"),
        # inside a container the mount's root is our own group
        ("memory", CONTAINER_MOUNTS, "4:memory:/docker/abc\n", "/sys/fs/cgroup/memory"),
        # pure cgroup v2: no v1 memory controller at all
        ("memory", "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n", None),
    ],
)
def test_controller_dir(controller: str, mounts: str, proc_cgroup: str, expected: str | None) -> None:
    found = controller_dir(controller, mounts, proc_cgroup)
    assert (str(found) if found else None) == expected


def test_wrap_without_groups_execs_the_argv_unchanged(tmp_path: Path) -> None:
    out = subprocess.run(wrap(["printf", "%s|", "a b", "--", "c"], []), capture_output=True, text=True, check=True)
    assert out.stdout == "a b|--|c|"


def test_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert tail_lines(log, 5) == []
    log.write_text("".join(f"line {i}\n" for i in range(20_000)))
    assert tail_lines(log, 3) == ["line 19997", "line 19998", "line 19999"]
    assert tail_lines(log, 0) == []
    log.write_bytes(b"one\n\xff two")
    assert tail_lines(log, 5) == ["one", "\ufffd two"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-30T20:18:41.197548123Z", datetime(2026, 11, 30, 20, 18, 41, 197548, tzinfo=UTC)),
        ("2026-11-30T20:18:41Z", datetime(2026, 11, 30, 20, 18, 41, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),  # the engine's "never started"
        ("garbage", None),
    ],
)
def test_docker_time(raw: str, expected: datetime | None) -> None:
    from sre_space.adapters.runtime.docker_inspect import parse_time

    assert parse_time(raw) == expected
