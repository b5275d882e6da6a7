#!/bin/bash
# mesh-proxy.sh: the entrypoint of the injected `istio-proxy` container (docs/injection.md), the
# part of Istio's pilot-agent that meshd needs:
#   1. renders Envoy's bootstrap with `meshctl bootstrap --envoy` from the pod's environment
#      (the pod's IP and name are unknown at admission, so this happens at container start);
#   2. starts mesh-agent (workload certificate from meshd's CA, served to Envoy over SDS) and,
#      once its SDS socket exists, Envoy;
#   3. supervises both: when either exits, the other is stopped and the script exits with the
#      status of the one that ended first; on SIGTERM (or SIGINT) Envoy's inbound listeners are
#      drained, then Envoy and mesh-agent are stopped, in that order, and waited for.
#
# Usage:  mesh-proxy.sh            run the proxy (the image's entrypoint)
#         mesh-proxy.sh render     print the bootstrap on stdout and exit (tests, debugging)
#
# Environment, set by meshd's injector (docs/injection.md):
#   POD_NAME, POD_NAMESPACE, INSTANCE_IP   required (downward API)
#   MESH_DISCOVERY_ADDRESS                 required, meshd's mTLS xDS address (HOST:15013)
#   MESH_CA_ADDRESS                        required, meshd's CA address (HOST:15012)
#   MESH_SERVER_NAME                       required, the name meshd's certificate carries
#   MESH_POD_LABELS                        the pod's labels, k=v,k=v (may be empty)
#   ISTIO_META_CLUSTER_ID                  default Kubernetes
#   MESH_CLUSTER_DOMAIN                    default cluster.local
#   SERVICE_ACCOUNT                        informational (logged): the identity comes from the
#                                          projected token mesh-agent reads from its default
#                                          path, /var/run/secrets/tokens/istio-token
# Tuning (optional):
#   ENVOY_LOG_LEVEL (warning), ENVOY_CONCURRENCY (2 worker threads, Istio's default: Envoy's
#   own default is one per host CPU, not per CPU limit), ENVOY_DRAIN_TIME_S (45, Istio's),
#   MESH_AGENT_LOG_LEVEL (info), MESH_PROXY_DRAIN_SECONDS (5: how long inbound listeners drain
#   after SIGTERM before Envoy is stopped, Istio's terminationDrainDuration; 0 skips draining),
#   MESH_PROXY_STOP_TIMEOUT (10: seconds a process gets after SIGTERM before SIGKILL),
#   MESH_PROXY_SDS_WAIT_SECONDS (10: how long Envoy's start waits for mesh-agent's socket).
# Paths and binaries (the defaults are the injected pod's; tests override them):
#   MESH_PROXY_CONFIG_DIR (/etc/istio/proxy, the bootstrap is envoy.json there),
#   MESH_SDS_SOCKET (/var/run/secrets/workload-spiffe-uds/socket),
#   MESH_ROOT_CERT (/var/run/secrets/istio/root-cert.pem),
#   MESH_CREDENTIALS_DIR (/var/run/secrets/workload-spiffe-credentials),
#   MESH_PROXY_ADMIN_PORT (15000, Envoy's admin port on 127.0.0.1, as the bootstrap sets it),
#   MESHCTL_BIN (meshctl), MESH_AGENT_BIN (mesh-agent), ENVOY_BIN (envoy).
#
# Exit status: 2 for a usage or environment error (the message names what is wrong); else the
# status of meshctl if rendering fails, or of the process that ended first; after SIGTERM,
# Envoy's status (mesh-agent's if Envoy's is 0).

set -u

PROG=mesh-proxy

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage_error() { log "$*"; exit 2; }

MESHCTL_BIN=${MESHCTL_BIN:-meshctl}
MESH_AGENT_BIN=${MESH_AGENT_BIN:-mesh-agent}
ENVOY_BIN=${ENVOY_BIN:-envoy}
CONFIG_DIR=${MESH_PROXY_CONFIG_DIR:-/etc/istio/proxy}
BOOTSTRAP=$CONFIG_DIR/envoy.json
SDS_SOCKET=${MESH_SDS_SOCKET:-/var/run/secrets/workload-spiffe-uds/socket}
ROOT_CERT=${MESH_ROOT_CERT:-/var/run/secrets/istio/root-cert.pem}
CREDENTIALS_DIR=${MESH_CREDENTIALS_DIR:-/var/run/secrets/workload-spiffe-credentials}
ADMIN_PORT=${MESH_PROXY_ADMIN_PORT:-15000}
DRAIN_SECONDS=${MESH_PROXY_DRAIN_SECONDS:-5}
STOP_TIMEOUT=${MESH_PROXY_STOP_TIMEOUT:-10}
SDS_WAIT_SECONDS=${MESH_PROXY_SDS_WAIT_SECONDS:-10}
ENVOY_CONCURRENCY=${ENVOY_CONCURRENCY:-2}
ENVOY_DRAIN_TIME_S=${ENVOY_DRAIN_TIME_S:-45}
CLUSTER_ID=${ISTIO_META_CLUSTER_ID:-Kubernetes}
CLUSTER_DOMAIN=${MESH_CLUSTER_DOMAIN:-cluster.local}
# sidecar (injected pods) or router (the gateways an install deploys): the node id's first part.
PROXY_TYPE=${MESH_PROXY_TYPE:-sidecar}

# Every problem with the environment at once, so one restart of the pod shows them all.
check_environment() {
    local missing="" name bad=""
    for name in POD_NAME POD_NAMESPACE INSTANCE_IP MESH_DISCOVERY_ADDRESS MESH_CA_ADDRESS MESH_SERVER_NAME; do
        if [ -z "${!name:-}" ]; then missing="$missing $name"; fi
    done
    if [ -n "$missing" ]; then
        usage_error "missing required environment variable(s):$missing" \
            "(set by meshd's sidecar injector; see docs/injection.md)"
    fi
    for name in "MESH_PROXY_DRAIN_SECONDS=$DRAIN_SECONDS" "MESH_PROXY_STOP_TIMEOUT=$STOP_TIMEOUT" \
        "MESH_PROXY_SDS_WAIT_SECONDS=$SDS_WAIT_SECONDS" "ENVOY_CONCURRENCY=$ENVOY_CONCURRENCY" \
        "ENVOY_DRAIN_TIME_S=$ENVOY_DRAIN_TIME_S" "MESH_PROXY_ADMIN_PORT=$ADMIN_PORT"; do
        case ${name#*=} in
            '' | *[!0-9]*) bad="$bad $name" ;;
        esac
    done
    if [ -n "$bad" ]; then usage_error "not a whole number:$bad"; fi
    # Base 10 even with a leading zero (bash would read 08 as a bad octal number).
    DRAIN_SECONDS=$((10#$DRAIN_SECONDS)) STOP_TIMEOUT=$((10#$STOP_TIMEOUT))
    SDS_WAIT_SECONDS=$((10#$SDS_WAIT_SECONDS)) ADMIN_PORT=$((10#$ADMIN_PORT))
}

# The bootstrap on stdout: Istio's sidecar node id, the pod's labels, meshd over mTLS with the
# certificate mesh-agent serves on the SDS socket.
render() {
    case "$PROXY_TYPE" in sidecar|router) ;; *) usage_error "MESH_PROXY_TYPE must be sidecar or router, not $PROXY_TYPE" ;; esac
    local node_id="${PROXY_TYPE}~${INSTANCE_IP}~${POD_NAME}.${POD_NAMESPACE}~${POD_NAMESPACE}.svc.${CLUSTER_DOMAIN}"
    local args=(bootstrap --envoy --node-id "$node_id" --cluster-id "$CLUSTER_ID"
        --xds-address "$MESH_DISCOVERY_ADDRESS" --server-name "$MESH_SERVER_NAME" --sds-socket "$SDS_SOCKET")
    if [ -n "${MESH_POD_LABELS:-}" ]; then args+=(--labels "$MESH_POD_LABELS"); fi
    "$MESHCTL_BIN" "${args[@]}"
}

# Written beside the final file and renamed, so Envoy never reads half a bootstrap.
write_bootstrap() {
    local tmp="$BOOTSTRAP.tmp.$$" status
    mkdir -p "$CONFIG_DIR" || exit 1
    render >"$tmp" || {
        status=$?
        rm -f "$tmp"
        log "meshctl bootstrap --envoy failed (exit $status); see its message above"
        exit "$status"
    }
    mv -f "$tmp" "$BOOTSTRAP" || exit 1
    log "bootstrap for ${PROXY_TYPE}~${INSTANCE_IP}~${POD_NAME}.${POD_NAMESPACE} written to $BOOTSTRAP"
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# SIGTERM, then up to STOP_TIMEOUT seconds, then SIGKILL; returns the process's exit status.
stop() {
    local pid=$1 name=$2 ticks=0
    if [ -z "$pid" ]; then return 0; fi
    if kill -TERM "$pid" 2>/dev/null; then
        while alive "$pid"; do
            ticks=$((ticks + 1))
            if [ "$ticks" -gt $((STOP_TIMEOUT * 10)) ]; then
                log "$name did not stop within ${STOP_TIMEOUT}s of SIGTERM; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null
                break
            fi
            sleep 0.1
        done
    fi
    wait "$pid"
}

# Envoy quits at once on SIGTERM. Like pilot-agent, ask it first to drain its inbound listeners
# gracefully (Envoy's admin API, POST /drain_listeners?inboundonly&graceful) so callers are told
# to go elsewhere, while outbound listeners keep serving the application's own shutdown.
# bash's /dev/tcp: the Envoy image has no curl.
drain_inbound() {
    local status_line=""
    if ! { exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT"; } 2>/dev/null; then
        log "Envoy's admin port 127.0.0.1:$ADMIN_PORT refused the drain request; stopping without draining"
        return 1
    fi
    printf '%s\r\n' "POST /drain_listeners?inboundonly&graceful HTTP/1.1" "Host: 127.0.0.1:$ADMIN_PORT" \
        "Content-Length: 0" "Connection: close" "" >&3
    IFS= read -r -t 2 status_line <&3 || true
    exec 3<&- 3>&-
    status_line=${status_line%$'\r'}
    case $status_line in
        "HTTP/1."?" 200"*) return 0 ;;
        *) log "Envoy's admin answered the drain request with '${status_line:-nothing}'"; return 1 ;;
    esac
}

shutdown() {
    local ticks=0 envoy_status agent_status
    trap '' TERM INT  # already shutting down
    if alive "$ENVOY_PID" && [ "$DRAIN_SECONDS" -gt 0 ]; then
        log "signal received: draining Envoy's inbound listeners for ${DRAIN_SECONDS}s"
        if drain_inbound; then
            while [ "$ticks" -lt $((DRAIN_SECONDS * 10)) ] && alive "$ENVOY_PID"; do
                sleep 0.1
                ticks=$((ticks + 1))
            done
        fi
    else
        log "signal received: stopping"
    fi
    # Envoy first: mesh-agent keeps serving its certificates until Envoy is gone.
    stop "$ENVOY_PID" envoy
    envoy_status=$?
    ENVOY_PID=""
    stop "$AGENT_PID" mesh-agent
    agent_status=$?
    AGENT_PID=""
    log "stopped (envoy exit $envoy_status, mesh-agent exit $agent_status)"
    if [ "$envoy_status" -ne 0 ]; then exit "$envoy_status"; fi
    exit "$agent_status"
}

# The first of the two to exit ends the container: the other is stopped, its status returned.
ended() {
    local name=$1 status=$2 other_pid=$3 other_name=$4
    trap '' TERM INT
    log "$name exited with status $status; stopping $other_name"
    stop "$other_pid" "$other_name"
    AGENT_PID="" ENVOY_PID=""
    exit "$status"
}

run() {
    local status pid="" agent_args envoy_args ip_version=v4 ticks=0
    AGENT_PID="" ENVOY_PID="" TERM_REQUESTED=""
    trap 'TERM_REQUESTED=1' TERM INT
    # However the script ends (even by a bug), no process of the two is left behind.
    trap 'kill -KILL $AGENT_PID $ENVOY_PID 2>/dev/null' EXIT

    write_bootstrap
    log "pod ${POD_NAMESPACE}/${POD_NAME}, service account ${SERVICE_ACCOUNT:-(not set)};" \
        "meshd at $MESH_DISCOVERY_ADDRESS (CA $MESH_CA_ADDRESS, name $MESH_SERVER_NAME)"

    # The socket of an earlier run of this container (the volume outlives it) would make the
    # wait below end at once; mesh-agent would replace it anyway.
    if [ -S "$SDS_SOCKET" ]; then rm -f "$SDS_SOCKET"; fi
    # The token is the projected one at mesh-agent's default path. Renewals (with the current
    # certificate) go to meshd's mTLS port, the discovery address.
    agent_args=(--ca-address "$MESH_CA_ADDRESS" --renew-address "$MESH_DISCOVERY_ADDRESS"
        --server-name "$MESH_SERVER_NAME" --root-cert "$ROOT_CERT" --output-dir "$CREDENTIALS_DIR"
        --sds-socket "$SDS_SOCKET" --log-level "${MESH_AGENT_LOG_LEVEL:-info}")
    "$MESH_AGENT_BIN" "${agent_args[@]}" &
    AGENT_PID=$!

    # Envoy would retry the socket with a growing backoff; starting it once the socket is bound
    # (before the first certificate: requests then wait for it) saves that delay.
    while [ ! -S "$SDS_SOCKET" ] && [ -z "$TERM_REQUESTED" ] && alive "$AGENT_PID"; do
        ticks=$((ticks + 1))
        if [ "$ticks" -gt $((SDS_WAIT_SECONDS * 10)) ]; then
            log "mesh-agent's SDS socket $SDS_SOCKET is not there after ${SDS_WAIT_SECONDS}s; starting Envoy anyway"
            break
        fi
        sleep 0.1
    done
    if [ -n "$TERM_REQUESTED" ]; then shutdown; fi
    if ! alive "$AGENT_PID"; then
        wait "$AGENT_PID"
        status=$?
        AGENT_PID=""
        log "mesh-agent exited with status $status before Envoy started"
        exit "$status"
    fi

    case $INSTANCE_IP in *:*) ip_version=v6 ;; esac
    # No hot restart (a restart is a new container), so no --parent-shutdown-time-s either;
    # --drain-time-s is how long a graceful drain (LDS updates, SIGTERM above) discourages
    # connections before closing them.
    envoy_args=(-c "$BOOTSTRAP" --log-level "${ENVOY_LOG_LEVEL:-warning}"
        --drain-time-s "$ENVOY_DRAIN_TIME_S" --drain-strategy immediate --disable-hot-restart
        --local-address-ip-version "$ip_version" --concurrency "$ENVOY_CONCURRENCY")
    "$ENVOY_BIN" "${envoy_args[@]}" &
    ENVOY_PID=$!

    while :; do
        if [ -n "$TERM_REQUESTED" ]; then shutdown; fi
        pid=""
        if ((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))); then
            wait -n -p pid "$AGENT_PID" "$ENVOY_PID"
        else
            wait -n
        fi
        status=$?
        # A trapped signal interrupts wait (status > 128, no pid); a process that ended is
        # handled first even when a signal came with it.
        pid=${pid:-}  # wait -p unsets it when a signal interrupts
        if [ -z "$pid" ] && [ -n "$TERM_REQUESTED" ]; then shutdown; fi
        if [ -z "$pid" ]; then
            if ! alive "$AGENT_PID"; then
                pid=$AGENT_PID
            elif ! alive "$ENVOY_PID"; then
                pid=$ENVOY_PID
            else
                continue
            fi
        fi
        if [ "$pid" = "$AGENT_PID" ]; then
            ended mesh-agent "$status" "$ENVOY_PID" envoy
        else
            ended envoy "$status" "$AGENT_PID" mesh-agent
        fi
    done
}

case ${1:-} in
    "")
        check_environment
        run
        ;;
    render)
        [ $# -eq 1 ] || usage_error "render takes no arguments"
        check_environment
        render
        ;;
    -h | --help)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        ;;
    *)
        usage_error "unknown argument '$1' (usage: mesh-proxy.sh [render])"
        ;;
esac
