#!/usr/bin/env bash
# Starts a NATS server with JetStream for meowflow's remote sources
# (docs/remote.md), with two users: "engine" and "instrument" (publish only on
# the event subjects). Passwords come from the environment and are never
# written to the config: nats-server reads them from its environment, each
# handed over quoted (any characters, not empty, up to about 60,000 bytes;
# "7f3a…" is not read as a number).
#
#   scripts/start-nats.sh start DIR [LISTEN]   # LISTEN: host:port (default 127.0.0.1:4222)
#   scripts/start-nats.sh stop DIR
#
# NKeys instead of passwords: set MEOW_NATS_ENGINE_NKEY and
# MEOW_NATS_INSTRUMENT_NKEY to the users' public keys (U…); the seeds stay
# with the clients. TLS: set MEOW_NATS_TLS_CERT and MEOW_NATS_TLS_KEY (PEM
# files); clients then need the CA that signed the certificate (tls_ca).
# With NETNS set, the server runs inside that network namespace.
# DIR holds nats.conf, nats.pid, nats.log, nats.out (what it printed) and the
# JetStream store.
set -euo pipefail
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [host:port]" >&2; exit 2; }
case "$cmd" in
  start)
    listen="${3:-127.0.0.1:4222}"
    instrument_may='permissions: { publish: ["meow.files.>", "$JS.API.STREAM.INFO.>", "$JS.API.INFO"], subscribe: ["_INBOX.>"] }'
    if [ -n "${MEOW_NATS_ENGINE_NKEY:-}${MEOW_NATS_INSTRUMENT_NKEY:-}" ]; then
      for key in "${MEOW_NATS_ENGINE_NKEY:-}" "${MEOW_NATS_INSTRUMENT_NKEY:-}"; do
        [[ "$key" =~ ^U[A-Z2-7]{55}$ ]] || { echo "MEOW_NATS_ENGINE_NKEY and MEOW_NATS_INSTRUMENT_NKEY: give both, each a user's public NKey (U… , 56 characters), not a seed" >&2; exit 2; }
      done
      engine_user="{ nkey: $MEOW_NATS_ENGINE_NKEY }"
      instrument_user="{ nkey: $MEOW_NATS_INSTRUMENT_NKEY, $instrument_may }"
    else
      : "${MEOW_NATS_ENGINE_PASSWORD:?export MEOW_NATS_ENGINE_PASSWORD (or MEOW_NATS_ENGINE_NKEY and MEOW_NATS_INSTRUMENT_NKEY)}" "${MEOW_NATS_INSTRUMENT_PASSWORD:?export MEOW_NATS_INSTRUMENT_PASSWORD}"
      # nats-server parses a variable's value as config: "7f3a…" would be a
      # number (and fail), "true" a boolean. It gets each password as a quoted
      # string, in its environment only.
      quoted() { local v="$1"; v="${v//\\/\\\\}"; v="${v//\"/\\\"}"; printf '"%s"' "$v"; }
      export MEOW_NATS_ENGINE_PASSWORD_QUOTED MEOW_NATS_INSTRUMENT_PASSWORD_QUOTED
      MEOW_NATS_ENGINE_PASSWORD_QUOTED=$(quoted "$MEOW_NATS_ENGINE_PASSWORD")
      MEOW_NATS_INSTRUMENT_PASSWORD_QUOTED=$(quoted "$MEOW_NATS_INSTRUMENT_PASSWORD")
      engine_user='{ user: engine, password: $MEOW_NATS_ENGINE_PASSWORD_QUOTED }'
      instrument_user="{ user: instrument, password: \$MEOW_NATS_INSTRUMENT_PASSWORD_QUOTED, $instrument_may }"
    fi
    tls=''
    if [ -n "${MEOW_NATS_TLS_CERT:-}${MEOW_NATS_TLS_KEY:-}" ]; then
      [ -r "${MEOW_NATS_TLS_CERT:-}" ] && [ -r "${MEOW_NATS_TLS_KEY:-}" ] || { echo "MEOW_NATS_TLS_CERT and MEOW_NATS_TLS_KEY: give both, readable PEM files" >&2; exit 2; }
      tls="tls { cert_file: \"$MEOW_NATS_TLS_CERT\", key_file: \"$MEOW_NATS_TLS_KEY\" }"
    fi
    command -v nats-server >/dev/null || { echo "nats-server not found: apt-get install nats-server" >&2; exit 1; }
    # A server still running from DIR keeps its pid file: a second one would orphan it, or share its store.
    if [ -s "$dir/nats.pid" ]; then
      old=$(cat "$dir/nats.pid")
      if [[ "$old" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$old/comm" 2>/dev/null)" = nats-server ]; then
        echo "a nats-server (pid $old) already runs from $dir; stop it first: $0 stop $dir" >&2; exit 1
      fi
    fi
    mkdir -p "$dir/js"
    rm -f "$dir/nats.pid"
    # max_control_line: a client's CONNECT line carries its password; the default (4 KiB) refuses long ones.
    cat > "$dir/nats.conf" <<CONF
listen: $listen
max_control_line: 64KB
jetstream { store_dir: "$dir/js" }
$tls
authorization {
  users: [
    $engine_user
    $instrument_user
  ]
}
CONF
    run=(nats-server -c "$dir/nats.conf" -l "$dir/nats.log" -P "$dir/nats.pid")
    if [ -n "${NETNS:-}" ]; then run=(ip netns exec "$NETNS" "${run[@]}"); fi
    # A restart appends to the log: only what this start writes counts.
    logged=$(stat -c %s "$dir/nats.log" 2>/dev/null || echo 0)
    setsid "${run[@]}" </dev/null >"$dir/nats.out" 2>&1 &
    launched=$!
    # Ready when it says so; failed soon when it exits (a bad config, a port in
    # use: gone for 2 s, by the pid started here and the one it wrote); a loaded
    # machine gets 60 s before this gives up. grep reads the whole log (no -q):
    # under pipefail a grep that quit early would fail tail with SIGPIPE.
    ready() { [ -s "$dir/nats.pid" ] && tail -c +"$((logged + 1))" "$dir/nats.log" 2>/dev/null | grep "Server is ready" >/dev/null; }
    alive() { kill -0 "$launched" 2>/dev/null || { [ -s "$dir/nats.pid" ] && kill -0 "$(cat "$dir/nats.pid")" 2>/dev/null; }; }
    why="did not say it was ready within 60 s"
    gone=0
    for _ in $(seq 1 600); do
      if ready; then echo "$(cat "$dir/nats.pid")"; exit 0; fi
      if alive; then gone=0; else gone=$((gone + 1)); fi
      if [ "$gone" -ge 20 ]; then why="exited before it was ready"; break; fi
      sleep 0.1
    done
    # How it ended: its exit status, or the signal that killed it (128 + N).
    ended=''
    if [ "$gone" -ge 20 ]; then
      status=0; wait "$launched" 2>/dev/null || status=$?
      if [ "$status" -gt 128 ] && [ "$status" -le 192 ]; then ended=", killed by SIG$(kill -l "$((status - 128))" 2>/dev/null || echo "$((status - 128))")"; else ended=", exit status $status"; fi
    fi
    {
      echo "nats-server $why (started as pid $launched$ended; pid file: $(cat "$dir/nats.pid" 2>/dev/null || echo none)); see $dir/nats.log"
      # (Either file may not exist: the server may not have got far enough to make it.)
      if [ -e "$dir/nats.log" ]; then tail -c +"$((logged + 1))" "$dir/nats.log" | tail -n 15; fi
      if [ -s "$dir/nats.out" ]; then echo "its output:"; tail -n 5 "$dir/nats.out"; fi
    } >&2 || true
    kill "$launched" 2>/dev/null || true
    exit 1 ;;
  stop)
    if [ -s "$dir/nats.pid" ]; then
      pid=$(cat "$dir/nats.pid")
      kill "$pid" 2>/dev/null || true
      # Gone before this returns (its port and store free), killed outright after 10 s.
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/nats.pid"
    fi ;;
  *) echo "usage: $0 start|stop DIR [host:port]" >&2; exit 2 ;;
esac
