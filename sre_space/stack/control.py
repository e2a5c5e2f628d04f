"""The daemon's control API (JSON over HTTP on 127.0.0.1): live status, drift, logs, runtime
actions. The CLI, the dashboard and the agents use it to reach the runtime the daemon owns."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from sre_space.errors import SREError

if TYPE_CHECKING:
    from sre_space.stack.daemon import StackDaemon


def stack_status(daemon: StackDaemon) -> dict[str, Any]:
    """Components, services (runtime state + probes), drift and the desired-state revision."""
    fleet = daemon.fleet
    services: list[dict[str, Any]] = []
    if fleet is not None:
        for name, state in fleet.states().items():
            services.append(
                {
                    "service": name,
                    "instances": [i.model_dump(mode="json") for i in state.instances],
                    **fleet.health(name),
                }
            )
    return {
        "state": daemon.state.model_dump(mode="json"),
        "services": services,
        "drift": [d.model_dump(mode="json") for d in fleet.drift()] if fleet else [],
        "desired_revision": fleet.repo.head() if fleet else None,
        "memory_enforcement": getattr(fleet.runtime, "memory_enforcement", None) if fleet else None,
    }


class ControlServer:
    """A small threaded HTTP server bound to the loopback interface."""

    def __init__(self, daemon: StackDaemon, host: str, port: int) -> None:
        self.daemon = daemon
        handler = type("Handler", (_Handler,), {"daemon": daemon})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="control-api", daemon=True)

    def start(self) -> ControlServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    daemon: StackDaemon

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fleet = self.daemon.fleet
        try:
            if url.path == "/status":
                self._send(200, stack_status(self.daemon))
            elif url.path == "/logs" and fleet is not None:
                service = query.get("service", "")
                if service not in fleet.desired().names():
                    self._send(404, {"error": f"unknown service {service!r}"})
                    return
                self._send(200, {"lines": fleet.runtime.logs(service, tail=int(query.get("tail", "100")))})
            elif url.path == "/events" and fleet is not None:
                self._send(200, {"events": [e.model_dump(mode="json") for e in fleet.runtime.events()]})
            else:
                self._send(404, {"error": "not found"})
        except (SREError, ValueError) as exc:
            self._send(400, {"error": str(exc)})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        fleet = self.daemon.fleet
        if fleet is None:
            self._send(503, {"error": "fleet not started"})
            return
        try:
            if parts == ["reconcile"]:
                self._send(200, fleet.sync().model_dump(mode="json"))
            elif len(parts) == 3 and parts[0] == "services" and parts[1] in fleet.desired().names():
                name, action = parts[1], parts[2]
                if action == "restart":
                    self._send(200, fleet.runtime.restart(name).model_dump(mode="json"))
                elif action == "stop":
                    fleet.runtime.stop(name)
                    self._send(200, {"stopped": name})
                elif action == "start":
                    spec = fleet.reconciler.render(fleet.desired().service(name))
                    self._send(200, fleet.runtime.apply(spec).model_dump(mode="json"))
                else:
                    self._send(404, {"error": f"unknown action {action!r}"})
            else:
                self._send(404, {"error": "not found"})
        except SREError as exc:
            self._send(400, {"error": str(exc)})
