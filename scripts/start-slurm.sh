#!/usr/bin/env bash
# Starts a one-node Slurm cluster on localhost for the tests (see
# test/fixtures/slurm/start.sh); `scripts/start-slurm.sh stop` stops it.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/../test/fixtures/slurm" && pwd)"
if [ "${1:-}" = stop ]; then exec bash "$HERE/stop.sh"; fi
exec bash "$HERE/start.sh"
