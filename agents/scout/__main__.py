"""``python -m agents.scout``: run Scout for the stack in ``SRE_SPACE_HOME`` until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from agents.scout.service import Scout
from sre_space.adapters.tracker import open_tracker
from sre_space.config import load_settings
from sre_space.errors import SREError


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        settings = load_settings()
        home = settings.home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        Scout(settings, home, open_tracker(settings, home)).run(stop)
    except SREError as exc:
        print(f"scout: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
