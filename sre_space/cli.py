"""``sre-space``: the command line of SRE-Space (the composition root with the stack daemon).

Every user mistake ends in one line on stderr and a non-zero exit; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sre_space.commands.agents import register as register_agents
from sre_space.commands.incidents import register as register_incidents
from sre_space.config import Settings, load_settings
from sre_space.errors import SREError
from sre_space.stack import launcher
from sre_space.stack.state import read_state

Command = Callable[[Settings, argparse.Namespace], int]


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    print(f"Starting SRE-Space (state in {settings.home.resolve()})")
    state = launcher.up(settings)
    print("Ready. URLs:")
    for comp in state.components:
        if comp.url:
            print(f"  {comp.name:<15} {comp.url}")
    print("`sre-space status` shows health; `sre-space down` stops everything.")
    if args.foreground:
        print("Running in the foreground: Ctrl-C stops the stack.")
        try:
            while launcher.running_state(settings.home.resolve()):
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        launcher.stop_daemon(settings.home.resolve())
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    stopped = launcher.stop_daemon(settings.home.resolve())
    print("stopped" if stopped else "not running")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    home = settings.home.resolve()
    if launcher.running_state(home) is None:
        state = read_state(home)
        if state and state.error:
            print(f"not running (last start failed: {state.error})")
        else:
            print("not running")
        return 3
    status = launcher.control(home, "GET", "/status")
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    return _print_status(status)


def _print_status(status: dict[str, Any]) -> int:
    state = status["state"]
    print(f"stack: {state['phase']} (daemon pid {state['daemon_pid']}), desired state @ {status['desired_revision']}")
    healthy = True
    for comp in state["components"]:
        if comp["name"] in {"broker", "traces", "control", "incidents", "agents"}:
            where = " ".join(part for part in (comp["url"], comp["detail"]) if part)
            print(f"  {comp['name']:<15} {comp['status']:<9} {where}".rstrip())
    print(f"  {'SERVICE':<15} {'HEALTH':<7} {'READY':<6} {'INSTANCES'}")
    for svc in status["services"]:
        inst = ", ".join(
            f"{i['instance']} {i['status']} pid={i['pid']} port={i['port']} restarts={i['restart_count']}"
            + (f" exit={i['exit_code']}" if i["exit_code"] is not None else "")
            + (" OOM-killed" if i["oom_killed"] else "")
            for i in svc["instances"]
        ) or "none"
        ok = bool(svc["health"]) and bool(svc["ready"])
        healthy &= ok
        print(f"  {svc['service']:<15} {_yn(svc['health']):<7} {_yn(svc['ready']):<6} {inst}")
    for drift in status["drift"]:
        print(f"  drift: {drift['service']} {drift['kind']}: {drift['detail']}")
    print(f"memory limits enforced by: {status['memory_enforcement']}")
    return 0 if healthy else 1


def _yn(value: bool | None) -> str:
    return "-" if value is None else ("ok" if value else "FAIL")


def cmd_logs(settings: Settings, args: argparse.Namespace) -> int:
    home = settings.home.resolve()
    if args.service in {None, "daemon", "broker", "tracestore"}:
        path = home / "logs" / f"{args.service or 'daemon'}.log"
        if not path.exists():
            raise SREError(f"no log at {path}")
        print("\n".join(path.read_text(errors="replace").splitlines()[-args.tail :]))
        return 0
    body = launcher.control(home, "GET", "/logs", service=args.service, tail=args.tail)
    print("\n".join(body["lines"]))
    return 0


def cmd_config(settings: Settings, args: argparse.Namespace) -> int:
    print(yaml.safe_dump(settings.masked(), sort_keys=False).rstrip())
    return 0


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    report = launcher.control(settings.home.resolve(), "POST", "/reconcile")
    for drift in report["drift"]:
        print(f"{drift['service']}: {drift['kind']} ({drift['detail']})")
    print(f"applied: {', '.join(report['applied']) or 'nothing'}")
    for service, error in report["errors"].items():
        print(f"error: {service}: {error}")
    return 1 if report["errors"] else 0


def cmd_chaos(settings: Settings, args: argparse.Namespace) -> int:
    from chaos.injectors import inject, revert
    from chaos.ledger import Ledger
    from chaos.scenarios import CATALOGUE

    home = settings.home.resolve()
    if args.action == "list":
        for sc in CATALOGUE.values():
            print(f"{sc.name:<11} {sc.target:<15} {sc.description}")
        return 0
    if args.action == "run":
        entry = inject(home, args.scenario, args.target)
        print(f"started {entry.scenario} on {entry.target} (id {entry.id}); stop it with `sre-space chaos stop`")
        return 0
    active = Ledger(home).active()
    if args.action == "status":
        for entry in active:
            print(f"{entry.id} {entry.scenario} on {entry.target} since {time.ctime(entry.start)}")
        print(f"{len(active)} active")
        return 0
    chosen = [e for e in active if args.id in (None, e.id, e.scenario)]
    for entry in reversed(chosen):
        revert(home, entry)
        print(f"stopped {entry.scenario} on {entry.target} (id {entry.id})")
    if not chosen:
        print("nothing to stop")
    return 0


def cmd_slo(settings: Settings, args: argparse.Namespace) -> int:
    from agents.scout.report import slo_report

    print(slo_report(settings, settings.home.resolve()))
    return 0


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from sre_space.bench import run_bench

    return run_bench(settings, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sre-space", description="SRE-Space: an autonomous reliability control plane")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="start the embedded stack, the fleet and its traffic")
    p.add_argument("--detach", action="store_true", help="return once ready (the default)")
    p.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops the stack")
    p.set_defaults(fn=cmd_up)
    sub.add_parser("down", help="stop everything `up` started").set_defaults(fn=cmd_down)
    p = sub.add_parser("status", help="what runs and how healthy it is")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_status)
    p = sub.add_parser("logs", help="logs of a service (or the daemon, broker, tracestore)")
    p.add_argument("service", nargs="?")
    p.add_argument("--tail", type=int, default=100)
    p.set_defaults(fn=cmd_logs)
    sub.add_parser("config", help="print the effective configuration (secrets masked)").set_defaults(fn=cmd_config)
    sub.add_parser("reconcile", help="apply the desired state now and print drift").set_defaults(fn=cmd_reconcile)
    p = sub.add_parser("chaos", help="inject a fault scenario (ground truth goes to the ledger)")
    chaos = p.add_subparsers(dest="action", required=True)
    chaos.add_parser("list", help="the catalogue")
    c = chaos.add_parser("run", help="start a scenario")
    c.add_argument("scenario")
    c.add_argument("--target", help="service to act on (default: the scenario's)")
    chaos.add_parser("status", help="active faults")
    c = chaos.add_parser("stop", help="end active faults (all, or one id or scenario)")
    c.add_argument("id", nargs="?")
    p.set_defaults(fn=cmd_chaos)
    register_incidents(sub)
    sub.add_parser("slo", help="SLOs: error budgets and burn rates").set_defaults(fn=cmd_slo)
    register_agents(sub)
    p = sub.add_parser("bench", help="measure: stack, tracestore, scout, rca, brain")
    bench = p.add_subparsers(dest="bench", required=True)
    b = bench.add_parser("stack", help="time to ready, RSS at rest and under load, journeys/s and latency")
    b.add_argument("--load-seconds", type=float, default=30.0)
    b.add_argument("--rate", type=float, default=20.0, help="journeys per second under load")
    b = bench.add_parser("tracestore", help="span ingest rate and 15-minute query latency")
    b.add_argument("--spans", type=int, default=50_000)
    b = bench.add_parser("scout", help="Scout: MTTD per detector, events/s, memory, false positives")
    b.add_argument("--events", type=int, default=100_000, help="events for the throughput runs")
    b.add_argument("--quiet-seconds", type=float, default=60.0, help="fault-free window counted for false positives")
    b.add_argument("--no-detection", action="store_true", help="throughput and memory only (no stack)")
    b = bench.add_parser("brain", help="the RCA engine on the last minutes of the running demo fleet")
    b.add_argument("--minutes", type=float, default=15.0, help="incident window")
    b.add_argument("--baseline-minutes", type=float, default=5.0)
    b = bench.add_parser("rca", help="RCA accuracy on a labelled dataset")
    b.add_argument("directory", type=Path)
    b.add_argument("--format", default="nezha", choices=["nezha"])
    b.add_argument("--limit", type=int, default=None)
    b.add_argument("--inject-delay", type=float, default=None, metavar="MS",
                   help="instead of the labels: delay each busy service's network by MS on real fault-free traces")
    p.set_defaults(fn=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        code: int = args.fn(settings, args)
        return code
    except SREError as exc:
        if args.debug:
            raise
        print(f"sre-space: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`sre-space status | head`): not an error; keep the exit quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
