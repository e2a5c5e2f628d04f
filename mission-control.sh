#!/usr/bin/env bash
# Mission control: install on first use, then delegate to the `sre-space` CLI (one code path).
#   ./mission-control.sh up | down | status | logs [service] | chaos <scenario> [options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
VENV=${SRE_VENV:-.venv}

install() {
  command -v python3 >/dev/null || { echo "mission-control: python3 (>= 3.11) is required" >&2; exit 3; }
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "mission-control: Python >= 3.11 is required (found $(python3 -V))" >&2; exit 3; }
  echo "Installing SRE-Space into $VENV (first run only)..."
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e . || { echo "mission-control: pip install failed" >&2; exit 1; }
}
[[ -x $VENV/bin/sre-space ]] || install

cmd=${1:-help}
case $cmd in
  up|down|status|logs|config|reconcile|bench) exec "$VENV/bin/sre-space" "$@" ;;
  chaos) shift; exec "$VENV/bin/sre-space" chaos "$@" ;;
  install) echo "installed in $VENV" ;;
  *) echo "usage: $0 up | down | status | logs [service] | chaos <scenario> [--target SERVICE]" >&2; exit 2 ;;
esac
