#!/usr/bin/env bash
# The steering loop (examples/steering) across two hosts (docs/remote.md): the
# instrument and `meow forward` in one network namespace, the engine in
# another, the NATS bus in a third between them, all sharing this machine's
# filesystem like hosts mounting the same storage. The engine polls its tree
# only hourly, so every measurement reaches it through the bus. Needs root,
# iproute2 and nats-server; everything it starts is stopped, by pid, at exit.
#
#   sudo bash scripts/remote-demo.sh [NAME] [--keep]
#
# NAME (default "demo", 1-8 letters/digits) names the namespaces NAME-inst,
# NAME-bus and NAME-eng. --keep leaves the workspace for inspection.
# MEOW_DEMO_DEADLINE: seconds the loop may take to converge (default 600).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
name=demo keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) name="$arg" ;;
  esac
done
[[ "$name" =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "remote-demo: NAME must be 1-8 letters/digits, got \"$name\"" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "remote-demo: network namespaces need root (run it with sudo)" >&2; exit 2; }
for tool in ip nats-server node; do
  command -v "$tool" >/dev/null || { echo "remote-demo: $tool not found (apt-get install iproute2 nats-server; Node.js 20)" >&2; exit 2; }
done
deadline=$(( $(date +%s) + ${MEOW_DEMO_DEADLINE:-600} ))
node=$(command -v node)
meow=("$node" "$repo/bin/meow.js")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/meow-remote-demo-XXXXXX")
W="$tmp/W"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  bash "$repo/scripts/start-nats.sh" stop "$tmp/bus" >/dev/null 2>&1 || true
  bash "$repo/scripts/netns.sh" down "$name" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "kept: $tmp (engine.log, forward.log, instrument.log, W/)"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fresh secrets for this run, handed to the server and the clients by environment only.
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export MEOW_NATS_ENGINE_PASSWORD MEOW_NATS_INSTRUMENT_PASSWORD
MEOW_NATS_ENGINE_PASSWORD=$(secret) MEOW_NATS_INSTRUMENT_PASSWORD=$(secret)

echo "== hosts: $name-inst (10.231.1.2) ── $name-bus (10.231.1.1, 10.231.2.1) ── $name-eng (10.231.2.2)"
bash "$repo/scripts/netns.sh" up "$name"
NETNS="$name-bus" bash "$repo/scripts/start-nats.sh" start "$tmp/bus" 0.0.0.0:4222 >/dev/null

echo "== workspace $W (meow init), measurements announced on the bus"
"${meow[@]}" init "$W" >/dev/null
cat >> "$W/meow.yaml" <<'EOF'
watch_mode: poll          # like NFS: remote writes are not seen by inotify …
poll_interval: 1h         # … so measurements arrive through the bus
sources:
  instrument:
    type: nats
    servers: ["nats://10.231.2.1:4222"]
    user: engine
    password_env: MEOW_NATS_ENGINE_PASSWORD
    paths: ["measurements/**"]
EOF

wait_for() { # WHAT COMMAND...: runs COMMAND until it succeeds, or fails at the deadline
  local what="$1"; shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "remote-demo: timed out waiting for $what" >&2; tail -n 20 "$tmp"/*.log >&2 || true; return 1; }
    sleep 0.2
  done
}

echo "== engine on $name-eng"
ip netns exec "$name-eng" "${meow[@]}" run --no-tui -w "$W" >"$tmp/engine.log" 2>&1 &
pids+=($!)
wait_for "the engine to connect to the bus" grep -q "source instrument: connected to the bus" "$tmp/engine.log"

echo "== forwarder and instrument on $name-inst"
ip netns exec "$name-inst" "${meow[@]}" forward "$W/measurements" --to "$W" --state "$tmp/outbox.db" --settle 50ms \
  --server nats://10.231.1.1:4222 --user instrument --password-env MEOW_NATS_INSTRUMENT_PASSWORD --host beamline-7 >"$tmp/forward.log" 2>&1 &
pids+=($!)
ip netns exec "$name-inst" "$node" "$W/instrument.mjs" --workspace "$W" >"$tmp/instrument.log" 2>&1 &
pids+=($!)

wait_for "the loop to converge (result.json)" test -s "$W/result.json"
measured=$(find "$W/measurements" -name '*.json' | wc -l)
echo "== converged after $measured measurement(s): $(tr -d '\n' < "$W/result.json")"
forwarded() { "${meow[@]}" trace "$W/measurements/000.json" -w "$W" | grep -q "forwarded from beamline-7"; }
wait_for "the origin of the first measurement in meow trace" forwarded
echo "== meow trace measurements/000.json"
"${meow[@]}" trace "$W/measurements/000.json" -w "$W"
echo "== meow forward --status"
"${meow[@]}" forward "$W/measurements" --status --state "$tmp/outbox.db"
echo "remote-demo: the steering loop ran across hosts"
