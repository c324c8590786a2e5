#!/usr/bin/env bash
# The small spawner the peers of the benchmark run recipes with:
#   spawner.sh MAX RECIPE LOG [PREFIX [ERRORS]]
# Reads one path per line on stdin and runs `bash RECIPE` once per line with
# input_file set to PREFIX/line (the line itself when PREFIX is empty), at most
# MAX at a time. LOG gets "S line" as each run starts and, whenever nothing is
# left to read for 50 ms and the runs in flight have ended (or at end of
# input), "D runs failed EPOCHREALTIME": the runs since the last D line, how
# many exited non-zero, and when the last of them ended. With ERRORS, the
# runs' error output is appended there.
max=$1 recipe=$2 log=$3 prefix=${4:-}
exec 3>>"$log"
if [[ -n ${5:-} ]]; then exec 2>>"$5"; fi
declare -A live=()
ran=0 failed=0 buf=

# Forgets runs that already ended (the shell may have reaped them already).
reap() {
  local p
  for p in "${!live[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      wait "$p" || failed=$((failed + 1))
      unset "live[$p]"
    fi
  done
}

# Waits for every run in flight, then reports.
drain() {
  local p
  for p in "${!live[@]}"; do wait "$p" || failed=$((failed + 1)); done
  live=()
  if ((ran)); then printf 'D %s %s %s\n' "$ran" "$failed" "$EPOCHREALTIME" >&3; fi
  ran=0 failed=0
}

while :; do
  if IFS= read -r -t 0.05 part; then
    line=$buf$part buf=
    while ((${#live[@]} >= max)); do
      reap
      ((${#live[@]} >= max)) || break
      p=
      wait -n -p p
      s=$?
      if [[ -n $p ]]; then
        ((s)) && failed=$((failed + 1))
        unset "live[$p]"
      fi
    done
    printf 'S %s\n' "$line" >&3
    input_file=${prefix:+$prefix/}$line bash "$recipe" &
    live[$!]=1
    ran=$((ran + 1))
  elif (($? > 128)); then
    # Timed out: keep a partial line, report if runs were in flight.
    buf+=$part
    ((${#live[@]})) && drain
  else
    break
  fi
done
drain
