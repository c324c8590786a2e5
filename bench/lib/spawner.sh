#!/usr/bin/env bash
# The small spawner the peers of the benchmark run recipes with:
#   spawner.sh MAX RECIPE LOG PAUSE [PREFIX [ERRORS]]
# Reads one path per line on stdin and runs `bash RECIPE` once per line with
# input_file set to PREFIX/line (the line itself when PREFIX is empty), at most
# MAX at a time. LOG gets "S line" as each run starts and, whenever nothing is
# left to read and the runs in flight have ended (or at end of input),
# "D runs failed EPOCHREALTIME": the runs since the last D line, how many
# exited non-zero, and when the last of them was seen to have ended (within
# 5 ms). No read ever times out part-way through a line. PAUSE is a FIFO
# nobody writes to: a timed read on it is a pause that takes no input. With
# ERRORS, the runs' error output is appended there.
max=$1 recipe=$2 log=$3 pause=$4 prefix=${5:-}
exec 3>>"$log" 4<>"$pause"
if [[ -n ${6:-} ]]; then exec 2>>"$6"; fi
declare -A live=()
ran=0 failed=0

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
  # Runs in flight and nothing to read: wait for input or for the runs to end.
  while ((${#live[@]})) && ! read -t 0; do
    reap
    if ((${#live[@]} == 0)); then
      drain
      break
    fi
    read -r -t 0.005 -u 4 _
  done
  IFS= read -r line || break
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
done
drain
