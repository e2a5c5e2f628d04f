#!/usr/bin/env python3
"""Trigger a chaos scenario on the running stack: ``python trigger_chaos.py oom``.

A thin entry point over ``sre-space chaos`` (same code path as the CLI and the tests);
``python trigger_chaos.py --list`` shows the catalogue.
"""

import sys

from sre_space.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] in {"--list", "list"}:
        sys.exit(main(["chaos", "list"]))
    if args[0] in {"stop", "--stop"}:
        sys.exit(main(["chaos", "stop", *args[1:]]))
    sys.exit(main(["chaos", "run", *args]))
