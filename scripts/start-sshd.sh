#!/usr/bin/env bash
# Starts a private sshd on 127.0.0.1 for the tests (see
# test/fixtures/ssh/start.sh); `scripts/start-sshd.sh stop` stops it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/../test/fixtures/ssh" && pwd)"
if [ "${1:-}" = stop ]; then exec bash "$HERE/stop.sh"; fi
exec bash "$HERE/start.sh"
