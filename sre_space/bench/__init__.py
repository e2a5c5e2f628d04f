"""``sre-space bench ...``: performance and accuracy figures that go in the README.

Each benchmark measures and reports, failures included; none asserts a threshold.
"""

from __future__ import annotations

import argparse

from sre_space.config import Settings


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch to one benchmark and print its report."""
    if args.bench == "stack":
        from sre_space.bench import stack

        print(stack.render(stack.run(settings, load_seconds=args.load_seconds, rate=args.rate)))
    elif args.bench == "tracestore":
        from sre_space.bench import tracestore

        print(tracestore.render(tracestore.run(spans=args.spans)))
    elif args.bench == "scout":
        from sre_space.bench import scout

        print(scout.render(scout.run(settings, events=args.events, detection=not args.no_detection,
                                     quiet_seconds=args.quiet_seconds)))
    elif args.bench == "brain":
        from sre_space.bench import brain

        print(brain.render(brain.run(settings, minutes=args.minutes, baseline_minutes=args.baseline_minutes)))
    elif args.bench == "rca" and args.inject_delay is not None:
        from sre_space.bench import delay

        print(delay.render(delay.run(args.directory, delay_ms=args.inject_delay)))
    elif args.bench == "rca":
        from sre_space.bench import rca

        print(rca.render(rca.run(args.directory, fmt=args.format, limit=args.limit)))
    return 0
