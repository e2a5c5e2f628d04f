"""Both memory-enforcement paths of the local runtime, forced through the constructor flag."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sre_space.adapters.runtime.base import InstanceState, RuntimeEventKind
from sre_space.adapters.runtime.cgroups import MIB, controller_dir
from sre_space.adapters.runtime.local import LocalRuntime
from sre_space.errors import PrerequisiteError
from sre_space.models.fleet import ServiceSpec
from tests.helpers import poll_until

HOG = ServiceSpec(
    name="hog", command=["python", "-c", "a = []\nwhile True:\n    a.append(b'x' * (4 << 20))"], memory_mb=64
)
IDLE = ServiceSpec(
    name="idle", command=["python", "-c", "import time\nwhile True: time.sleep(60)"], memory_mb=64, cpus=0.25
)


def open_runtime(tmp_path: Path, mode: str) -> LocalRuntime:
    try:
        return LocalRuntime(tmp_path, dict(os.environ), memory_enforcement=mode, backoff_initial=0.2)  # type: ignore[arg-type]
    except PrerequisiteError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def watchdog_runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    runtime = open_runtime(tmp_path, "watchdog")
    yield runtime
    runtime.close()


@pytest.fixture
def cgroup_runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    runtime = open_runtime(tmp_path, "cgroup")
    yield runtime
    runtime.close()


def oom_killed(runtime: LocalRuntime) -> InstanceState:
    def check() -> InstanceState | None:
        inst = runtime.state("hog").instances[0]
        return inst if inst.oom_killed else None

    found = poll_until(check, "hog OOM-killed")
    assert found is not None
    return found


def test_watchdog_kills_at_the_limit_and_spares_the_rest(watchdog_runtime: LocalRuntime) -> None:
    runtime = watchdog_runtime
    assert (runtime.memory_enforcement, runtime.cpu_enforcement) == ("watchdog", "none")
    idle = runtime.apply(IDLE).instances[0]
    runtime.apply(HOG)
    assert oom_killed(runtime).exit_code == 137
    # The watchdog sampled the idle service all along and left it alone.
    still = runtime.state("idle").instances[0]
    assert (still.pid, still.restart_count, still.status) == (idle.pid, 0, "running")
    assert still.rss_mb is not None and still.rss_mb < IDLE.memory_mb
    event = next(e for e in runtime.events() if e.kind == RuntimeEventKind.OOM_KILLED)
    assert (event.instance, event.exit_code) == ("hog-0", 137)


@pytest.mark.cgroup
def test_cgroup_limits_from_the_first_byte_and_the_kernel_kills(cgroup_runtime: LocalRuntime) -> None:
    runtime = cgroup_runtime
    assert runtime.memory_enforcement == "cgroup"
    pid = runtime.apply(IDLE).instances[0].pid

    # Once the wrapper has exec'd the real command, the process must already sit in its group.
    def execd() -> bool:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == sys.executable.encode()

    poll_until(execd, "the wrapper exec'd the command")
    mounts = Path("/proc/self/mountinfo").read_text()
    group = controller_dir("memory", mounts, Path(f"/proc/{pid}/cgroup").read_text())
    assert group is not None and group.name == "idle-0" and group.parent.parent.name == "sre-space"
    assert int((group / "memory.limit_in_bytes").read_text()) == IDLE.memory_mb * MIB
    if runtime.cpu_enforcement == "cgroup":
        cpu = controller_dir("cpu", mounts, Path(f"/proc/{pid}/cgroup").read_text())
        assert cpu is not None and int((cpu / "cpu.cfs_quota_us").read_text()) == 25_000
    runtime.apply(HOG)
    inst = oom_killed(runtime)
    assert inst.exit_code == 137 and inst.memory_limit_mb == 64
    runtime.stop("idle")
    assert not group.exists()
