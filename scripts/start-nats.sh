#!/usr/bin/env bash
# Starts a NATS server with JetStream for meowflow's remote sources
# (docs/remote.md), with two users: "engine" and "instrument" (publish only on
# the event subjects). Passwords come from the environment and are never
# written to the config: nats-server reads $MEOW_NATS_ENGINE_PASSWORD and
# $MEOW_NATS_INSTRUMENT_PASSWORD itself.
#
#   scripts/start-nats.sh start DIR [LISTEN]   # LISTEN: host:port (default 127.0.0.1:4222)
#   scripts/start-nats.sh stop DIR
#
# With NETNS set, the server runs inside that network namespace.
# DIR holds nats.conf, nats.pid, nats.log and the JetStream store.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [host:port]" >&2; exit 2; }
case "$cmd" in
  start)
    listen="${3:-127.0.0.1:4222}"
    : "${MEOW_NATS_ENGINE_PASSWORD:?export MEOW_NATS_ENGINE_PASSWORD}" "${MEOW_NATS_INSTRUMENT_PASSWORD:?export MEOW_NATS_INSTRUMENT_PASSWORD}"
    command -v nats-server >/dev/null || { echo "nats-server not found: apt-get install nats-server" >&2; exit 1; }
    mkdir -p "$dir/js"
    cat > "$dir/nats.conf" <<CONF
listen: $listen
http: 0
jetstream { store_dir: "$dir/js" }
authorization {
  users: [
    { user: engine, password: \$MEOW_NATS_ENGINE_PASSWORD }
    { user: instrument, password: \$MEOW_NATS_INSTRUMENT_PASSWORD,
      permissions: { publish: ["meow.files.>", "\$JS.API.STREAM.INFO.>", "\$JS.API.INFO"], subscribe: ["_INBOX.>"] } }
  ]
}
CONF
    sed -i '/^http: 0$/d' "$dir/nats.conf"
    run=(nats-server -c "$dir/nats.conf" -l "$dir/nats.log" -P "$dir/nats.pid")
    if [ -n "${NETNS:-}" ]; then run=(ip netns exec "$NETNS" "${run[@]}"); fi
    setsid "${run[@]}" </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 100); do
      if [ -s "$dir/nats.pid" ] && grep -q "Server is ready" "$dir/nats.log" 2>/dev/null; then echo "$(cat "$dir/nats.pid")"; exit 0; fi
      sleep 0.1
    done
    echo "nats-server did not start; see $dir/nats.log" >&2; exit 1 ;;
  stop)
    if [ -s "$dir/nats.pid" ]; then kill "$(cat "$dir/nats.pid")" 2>/dev/null || true; rm -f "$dir/nats.pid"; fi ;;
  *) echo "usage: $0 start|stop DIR [host:port]" >&2; exit 2 ;;
esac
