"""Cgroup v1 groups for the local runtime: a real memory limit (kernel OOM kill) and a CPU quota.

Groups are created *below the supervisor's own cgroup* (``<own>/sre-space/<runtime>/<instance>``),
so the fleet stays inside whatever accounts for the control plane; when the supervisor runs in
the root cgroup that is ``/sys/fs/cgroup/memory/sre-space/<runtime>/<instance>``.
A process joins its group before ``exec`` (see ``wrap``), so it is limited from its first byte.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
CFS_PERIOD_US = 100_000
# The child writes its own pid into each group's cgroup.procs, then execs the real command.
_JOIN_SCRIPT = 'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo $$ > "$1" || exit 126; shift; done; shift; exec "$@"'


@dataclass(frozen=True)
class CgroupRoots:
    """Writable parent directories for this runtime's groups (``None``: controller unusable)."""

    memory: Path | None
    cpu: Path | None


def _mounts(mountinfo: str) -> dict[str, tuple[Path, str]]:
    """Controller -> (mount point, hierarchy root) for every cgroup v1 mount."""
    found: dict[str, tuple[Path, str]] = {}
    for line in mountinfo.splitlines():
        pre, _, post = line.partition(" - ")
        fields, tail = pre.split(), post.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] != "cgroup":
            continue
        for option in tail[2].split(","):
            found.setdefault(option, (Path(fields[4]), fields[3]))
    return found


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """Controller -> this process's path in that hierarchy (from /proc/self/cgroup)."""
    paths: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1]:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def controller_dir(controller: str, mountinfo: str, proc_cgroup: str) -> Path | None:
    """Directory of this process's own group for a v1 controller, or ``None``."""
    mount = _mounts(mountinfo).get(controller)
    own = _own_paths(proc_cgroup).get(controller)
    if mount is None or own is None:
        return None
    point, root = mount
    relative = own[len(root) :] if root != "/" and own.startswith(root) else own
    return point / relative.lstrip("/")


def detect(runtime_id: str) -> CgroupRoots:
    """Create ``sre-space/<runtime_id>`` under our own memory and cpu groups where we may."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return CgroupRoots(None, None)
    roots: dict[str, Path | None] = {}
    for controller, probe in (("memory", "memory.limit_in_bytes"), ("cpu", "cpu.cfs_quota_us")):
        base = controller_dir(controller, mountinfo, proc_cgroup)
        roots[controller] = None
        if base is None or not (base / probe).exists():
            continue
        target = base / "sre-space" / runtime_id
        _sweep_stale(target.parent)
        try:
            target.mkdir(parents=True, exist_ok=True)
            (target / probe).read_text()
        except OSError:
            continue
        roots[controller] = target
    return CgroupRoots(memory=roots["memory"], cpu=roots["cpu"])


def _sweep_stale(parent: Path) -> None:
    """Remove empty groups of runtimes whose process is gone (``<pid>-<token>``, killed -9).

    ``rmdir`` refuses a group that still holds a process, so a live instance is never touched.
    """
    if not parent.is_dir():
        return
    for group in parent.iterdir():
        pid = group.name.split("-", 1)[0]
        if not group.is_dir() or not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        for child in group.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            group.rmdir()


def wrap(argv: list[str], procs_files: list[Path]) -> list[str]:
    """argv that joins the given groups and then execs ``argv`` (no preexec_fn: threads are safe)."""
    return ["/bin/sh", "-c", _JOIN_SCRIPT, "sre-space-cgroup", *map(str, procs_files), "--", *argv]


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


class InstanceCgroup:
    """The memory (and optionally cpu) group of one instance."""

    def __init__(self, roots: CgroupRoots, name: str, memory_mb: int, cpus: float) -> None:
        if roots.memory is None:
            raise OSError("no writable memory cgroup")
        self.memory = roots.memory / name
        self.cpu = roots.cpu / name if roots.cpu is not None else None
        self.limit_bytes = memory_mb * MIB
        self.memory.mkdir(exist_ok=True)
        _write(self.memory / "memory.limit_in_bytes", str(self.limit_bytes))
        memsw = self.memory / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            # Without it the group could swap instead of being OOM-killed where swap exists.
            with contextlib.suppress(OSError):
                _write(memsw, str(self.limit_bytes))
        if self.cpu is not None:
            try:
                self.cpu.mkdir(exist_ok=True)
                _write(self.cpu / "cpu.cfs_period_us", str(CFS_PERIOD_US))
                _write(self.cpu / "cpu.cfs_quota_us", str(max(1000, int(cpus * CFS_PERIOD_US))))
            except OSError:
                self.cpu = None
        self._oom_baseline = 0

    @property
    def procs_files(self) -> list[Path]:
        groups = [self.memory] + ([self.cpu] if self.cpu is not None else [])
        return [g / "cgroup.procs" for g in groups]

    def begin(self) -> None:
        """Reset the evidence counters before a new process starts in the group."""
        for name in ("memory.failcnt", "memory.max_usage_in_bytes"):
            with contextlib.suppress(OSError):
                _write(self.memory / name, "0")
        self._oom_baseline = self._oom_kills()

    def _oom_kills(self) -> int:
        try:
            for line in (self.memory / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def oom_evidence(self) -> bool:
        """Did the kernel OOM-kill something in the group since ``begin``?"""
        if self._oom_kills() > self._oom_baseline:
            return True
        # Kernels before 4.13 have no oom_kill counter: a hit limit plus a full peak tells it.
        peak = _read_int(self.memory / "memory.max_usage_in_bytes")
        return _read_int(self.memory / "memory.failcnt") > 0 and peak >= self.limit_bytes * 0.95

    def usage_mb(self) -> float:
        return _read_int(self.memory / "memory.usage_in_bytes") / MIB

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.memory / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self) -> None:
        """SIGKILL every process left in the group (orphans of the instance's main process)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what remains and delete the groups (retrying while the kernel reaps the dead)."""
        deadline = time.monotonic() + timeout
        for group in (self.memory, self.cpu):
            if group is None or not group.exists():
                continue
            while True:
                self.kill_all()
                try:
                    group.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


def remove_root(roots: CgroupRoots) -> None:
    """Delete this runtime's parent groups (they are empty once every instance is removed)."""
    for root in (roots.memory, roots.cpu):
        if root is not None:
            # The shared ``sre-space`` parent goes too once no other runtime uses it.
            for group in (root, root.parent):
                with contextlib.suppress(OSError):
                    group.rmdir()
