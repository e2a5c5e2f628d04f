"""The GitOps source of truth: a git repository holding ``fleet.yaml``.

By default a local repository in the state directory, seeded from the project's
``deploy/fleet.yaml`` on first start. The reconciler reads the desired state from the tip of
its ``main`` branch; later issues change that file through pull requests.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sre_space.errors import BackendError, PrerequisiteError
from sre_space.models.fleet import FleetSpec, parse_fleet

FLEET_PATH = "fleet.yaml"
BRANCH = "main"
_IDENTITY = ["-c", "user.name=sre-space", "-c", "user.email=sre-space@localhost", "-c", "commit.gpgsign=false"]


class FleetRepo:
    """A git repository whose ``main:fleet.yaml`` is the desired state of the fleet."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        if shutil.which("git") is None:
            raise PrerequisiteError("gitops: the 'git' binary is not installed")
        proc = subprocess.run(
            ["git", *_IDENTITY, *args], cwd=self.path, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackendError(f"gitops: git {' '.join(args)} failed: {reason}")
        return proc.stdout

    def ensure(self, seed: Path) -> FleetRepo:
        """Create the repository from ``seed`` unless it already exists (its history is kept)."""
        if (self.path / ".git").exists():
            return self
        fleet = seed.read_text()
        parse_fleet(fleet, str(seed))  # refuse to seed a broken desired state
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", BRANCH)
        (self.path / FLEET_PATH).write_text(fleet)
        self.git("add", FLEET_PATH)
        self.git("commit", "-q", "-m", f"Seed desired state from {seed.name}")
        return self

    def desired(self) -> FleetSpec:
        """The desired state at the tip of ``main``."""
        return parse_fleet(self.git("show", f"{BRANCH}:{FLEET_PATH}"), f"{self.path}:{BRANCH}:{FLEET_PATH}")

    def head(self) -> str:
        return self.git("rev-parse", "--short", BRANCH).strip()

    def commit(self, fleet_yaml: str, message: str) -> str:
        """Write a new desired state on ``main`` (validated first) and return the commit id."""
        parse_fleet(fleet_yaml, FLEET_PATH)
        (self.path / FLEET_PATH).write_text(fleet_yaml)
        self.git("add", FLEET_PATH)
        self.git("commit", "-q", "-m", message)
        return self.head()

    def log(self, limit: int = 20) -> list[str]:
        """Recent changes to the desired state, newest first (``<sha> <iso time> <subject>``)."""
        out = self.git("log", f"-{limit}", "--format=%h %cI %s", BRANCH, "--", FLEET_PATH)
        return [line for line in out.splitlines() if line]
