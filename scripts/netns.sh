#!/usr/bin/env bash
# Three network namespaces for meowflow's cross-host tests (docs/remote.md):
# NAME-inst (the instrument host), NAME-bus (the NATS server) and NAME-eng
# (the engine), joined through the bus by two veth pairs on private subnets
# used only between them:
#
#   inst 10.231.1.2 ── 10.231.1.1 bus 10.231.2.1 ── 10.231.2.2 eng
#
# The namespaces share this machine's filesystem, like hosts that mount the
# same storage. NAME: at most 8 letters/digits (veth names are short).
#
#   scripts/netns.sh up NAME
#   scripts/netns.sh cut NAME inst|eng       # take that host's link down
#   scripts/netns.sh restore NAME inst|eng   # bring it back
#   scripts/netns.sh down NAME               # delete everything (idempotent)
set -euo pipefail
cmd="${1:-}"; name="${2:-}"
[[ "$name" =~ ^[A-Za-z0-9]{1,8}$ ]] || { echo "usage: $0 up|down|cut|restore NAME [inst|eng] (NAME: 1-8 letters/digits)" >&2; exit 2; }
ns() { echo "$name-$1"; }
link() { case "$1" in inst) echo "${name}bi";; eng) echo "${name}be";; *) echo "inst or eng, not $1" >&2; exit 2;; esac; }
case "$cmd" in
  up)
    for h in inst bus eng; do ip netns add "$(ns $h)"; ip -n "$(ns $h)" link set lo up; done
    ip link add "${name}i" type veth peer name "${name}bi"
    ip link add "${name}e" type veth peer name "${name}be"
    ip link set "${name}i" netns "$(ns inst)"; ip link set "${name}bi" netns "$(ns bus)"
    ip link set "${name}e" netns "$(ns eng)"; ip link set "${name}be" netns "$(ns bus)"
    ip -n "$(ns inst)" addr add 10.231.1.2/24 dev "${name}i"
    ip -n "$(ns bus)" addr add 10.231.1.1/24 dev "${name}bi"
    ip -n "$(ns bus)" addr add 10.231.2.1/24 dev "${name}be"
    ip -n "$(ns eng)" addr add 10.231.2.2/24 dev "${name}e"
    ip -n "$(ns inst)" link set "${name}i" up; ip -n "$(ns bus)" link set "${name}bi" up
    ip -n "$(ns eng)" link set "${name}e" up; ip -n "$(ns bus)" link set "${name}be" up ;;
  cut) ip -n "$(ns bus)" link set "$(link "${3:-}")" down ;;
  restore) ip -n "$(ns bus)" link set "$(link "${3:-}")" up ;;
  down)
    # Deleting a namespace deletes the veth ends inside it, and with them their peers.
    for h in inst bus eng; do ip netns del "$(ns $h)" 2>/dev/null || true; done ;;
  *) echo "usage: $0 up|down|cut|restore NAME [inst|eng]" >&2; exit 2 ;;
esac
