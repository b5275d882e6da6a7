#!/bin/sh
# Traffic capture for an Envoy sidecar, as Istio's init container (istio-iptables) sets it up in
# REDIRECT mode: every TCP connection the workload opens goes to Envoy's outbound port (15001),
# every TCP connection arriving for the workload goes to Envoy's inbound port (15006), and the
# original destination stays readable (SO_ORIGINAL_DST) for Envoy's `use_original_dst`.
#
# Run once per network namespace (pod), as root or with CAP_NET_ADMIN, before the workload starts:
#   istio-iptables.sh [options]            apply (replaces an earlier run's chains)
#   istio-iptables.sh --clean              remove everything this script added
#
# Options (defaults are Istio's):
#   -p, --proxy-port PORT            outbound capture port                       (15001)
#   -z, --inbound-capture-port PORT  inbound capture port                        (15006)
#   -u, --proxy-uid UID              the proxy's user: its traffic is not captured (1337)
#   -g, --proxy-gid GID              the proxy's group, likewise                  (the uid)
#   -b, --inbound-ports LIST         inbound ports to capture, '*' for all, '' for none  (*)
#   -d, --exclude-inbound-ports LIST inbound ports never captured (Envoy's own)  (15090,15021,15020)
#   -o, --exclude-outbound-ports LIST  outbound destination ports not captured   ('')
#   -i, --outbound-cidrs LIST        outbound destinations to capture, '*' for all  (*)
#   -x, --exclude-outbound-cidrs LIST  outbound destinations not captured        ('')
#   -n, --dry-run                    print the iptables commands instead of running them
# LISTs are comma-separated. IPv4 only (iptables); IPv6 traffic is not captured.
#
# The rules, in order of evaluation:
#   nat PREROUTING  -> ISTIO_INBOUND: excluded ports RETURN; captured ports -> ISTIO_IN_REDIRECT
#   nat OUTPUT      -> ISTIO_OUTPUT:
#     from 127.0.0.6 on lo RETURN          Envoy's inbound passthrough source address
#     proxy uid/gid to lo, not 127.0.0.1  -> ISTIO_IN_REDIRECT   (a workload calling itself by its
#                                           pod IP through Envoy comes back in as inbound traffic)
#     anyone else to lo RETURN             the workload talking to itself stays local
#     proxy uid/gid RETURN                 Envoy's own upstream connections leave as they are
#     to 127.0.0.1 RETURN
#     excluded ports and CIDRs RETURN
#     captured CIDRs -> ISTIO_REDIRECT   (REDIRECT --to-ports 15001)
set -eu

PROXY_PORT=15001
INBOUND_CAPTURE_PORT=15006
PROXY_UID=1337
PROXY_GID=
INBOUND_PORTS='*'
EXCLUDE_INBOUND_PORTS=15090,15021,15020
EXCLUDE_OUTBOUND_PORTS=
OUTBOUND_CIDRS='*'
EXCLUDE_OUTBOUND_CIDRS=
DRY_RUN=0
CLEAN=0
IPTABLES=${IPTABLES:-iptables}

die() { echo "istio-iptables.sh: $*" >&2; exit 2; }

need_value() { [ $# -ge 2 ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    -p|--proxy-port) need_value "$@"; PROXY_PORT=$2; shift 2 ;;
    -z|--inbound-capture-port) need_value "$@"; INBOUND_CAPTURE_PORT=$2; shift 2 ;;
    -u|--proxy-uid) need_value "$@"; PROXY_UID=$2; shift 2 ;;
    -g|--proxy-gid) need_value "$@"; PROXY_GID=$2; shift 2 ;;
    -b|--inbound-ports) need_value "$@"; INBOUND_PORTS=$2; shift 2 ;;
    -d|--exclude-inbound-ports) need_value "$@"; EXCLUDE_INBOUND_PORTS=$2; shift 2 ;;
    -o|--exclude-outbound-ports) need_value "$@"; EXCLUDE_OUTBOUND_PORTS=$2; shift 2 ;;
    -i|--outbound-cidrs) need_value "$@"; OUTBOUND_CIDRS=$2; shift 2 ;;
    -x|--exclude-outbound-cidrs) need_value "$@"; EXCLUDE_OUTBOUND_CIDRS=$2; shift 2 ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    --clean) CLEAN=1; shift ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ -n "$PROXY_GID" ] || PROXY_GID=$PROXY_UID

is_port() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
is_id() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; }
is_cidr() {
  # a.b.c.d or a.b.c.d/len, each octet 0-255, len 0-32
  addr=${1%/*}; len=32
  case "$1" in */*) len=${1#*/} ;; esac
  case "$len" in ''|*[!0-9]*) return 1 ;; esac
  [ "$len" -le 32 ] || return 1
  cidr_ifs=$IFS; IFS=.; set -- $addr; IFS=$cidr_ifs
  [ $# -eq 4 ] || return 1
  for octet in "$@"; do
    case "$octet" in ''|*[!0-9]*) return 1 ;; esac
    [ "$octet" -le 255 ] || return 1
  done
}
# Splits a comma list into words, checking each with $2; '*' passes through when $3 is "star".
list() {
  value=$1; check=$2; star=${3:-}
  [ -n "$value" ] || return 0
  if [ "$value" = '*' ]; then
    [ "$star" = star ] || die "'*' is not allowed here"
    echo '*'; return 0
  fi
  old_ifs=$IFS; IFS=,
  for item in $value; do
    $check "$item" || die "'$item' is not valid here"
    echo "$item"
  done
  IFS=$old_ifs
}

is_port "$PROXY_PORT" || die "--proxy-port '$PROXY_PORT' is not a port"
is_port "$INBOUND_CAPTURE_PORT" || die "--inbound-capture-port '$INBOUND_CAPTURE_PORT' is not a port"
is_id "$PROXY_UID" || die "--proxy-uid '$PROXY_UID' is not a numeric uid"
is_id "$PROXY_GID" || die "--proxy-gid '$PROXY_GID' is not a numeric gid"
# Checked before any rule is touched: bad input never leaves half the rules applied.
INBOUND=$(list "$INBOUND_PORTS" is_port star)
EXCLUDED_IN=$(list "$EXCLUDE_INBOUND_PORTS" is_port)
EXCLUDED_OUT_PORTS=$(list "$EXCLUDE_OUTBOUND_PORTS" is_port)
OUTBOUND=$(list "$OUTBOUND_CIDRS" is_cidr star)
EXCLUDED_OUT_CIDRS=$(list "$EXCLUDE_OUTBOUND_CIDRS" is_cidr)

run() {
  if [ "$DRY_RUN" = 1 ]; then echo "$IPTABLES $*"; else "$IPTABLES" "$@"; fi
}

CHAINS="ISTIO_INBOUND ISTIO_REDIRECT ISTIO_IN_REDIRECT ISTIO_OUTPUT"

# Removes the jumps into our chains and the chains themselves; silent when absent.
clean() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "# remove earlier ISTIO_* chains and jumps (ignored when absent)"
    return 0
  fi
  while "$IPTABLES" -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND 2>/dev/null; do :; done
  while "$IPTABLES" -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT 2>/dev/null; do :; done
  # All flushed before any is deleted: ISTIO_OUTPUT jumps to ISTIO_REDIRECT.
  for chain in $CHAINS; do "$IPTABLES" -t nat -F "$chain" 2>/dev/null || true; done
  for chain in $CHAINS; do "$IPTABLES" -t nat -X "$chain" 2>/dev/null || true; done
}

command -v "$IPTABLES" >/dev/null 2>&1 || [ "$DRY_RUN" = 1 ] || die "$IPTABLES not found (apt-get install iptables)"
clean
[ "$CLEAN" = 1 ] && exit 0

for chain in $CHAINS; do run -t nat -N "$chain"; done

# Where captured connections go. REDIRECT rewrites the destination to a local port and
# conntrack keeps the original, which Envoy reads back with SO_ORIGINAL_DST.
run -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports "$PROXY_PORT"
run -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports "$INBOUND_CAPTURE_PORT"

# Inbound.
if [ -n "$INBOUND" ]; then
  run -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
  if [ "$INBOUND" = '*' ]; then
    # Envoy's own ports (stats, health, agent) and anything excluded reach their listeners.
    for port in $EXCLUDED_IN; do run -t nat -A ISTIO_INBOUND -p tcp --dport "$port" -j RETURN; done
    run -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
  else
    for port in $INBOUND; do run -t nat -A ISTIO_INBOUND -p tcp --dport "$port" -j ISTIO_IN_REDIRECT; done
  fi
fi

# Outbound.
run -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
run -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
run -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner "$PROXY_UID" -j ISTIO_IN_REDIRECT
run -t nat -A ISTIO_OUTPUT -o lo -m owner ! --uid-owner "$PROXY_UID" -j RETURN
run -t nat -A ISTIO_OUTPUT -m owner --uid-owner "$PROXY_UID" -j RETURN
run -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner "$PROXY_GID" -j ISTIO_IN_REDIRECT
run -t nat -A ISTIO_OUTPUT -o lo -m owner ! --gid-owner "$PROXY_GID" -j RETURN
run -t nat -A ISTIO_OUTPUT -m owner --gid-owner "$PROXY_GID" -j RETURN
run -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
for port in $EXCLUDED_OUT_PORTS; do run -t nat -A ISTIO_OUTPUT -p tcp --dport "$port" -j RETURN; done
for cidr in $EXCLUDED_OUT_CIDRS; do run -t nat -A ISTIO_OUTPUT -d "$cidr" -j RETURN; done
if [ "$OUTBOUND" = '*' ]; then
  run -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT
else
  for cidr in $OUTBOUND; do run -t nat -A ISTIO_OUTPUT -d "$cidr" -j ISTIO_REDIRECT; done
fi
