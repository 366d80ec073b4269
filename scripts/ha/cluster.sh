#!/usr/bin/env bash
# A pg_auto_failover formation on one machine (docs/ha.md): a monitor, a primary and a synchronous
# secondary, on loopback ports, run as the `postgres` OS user. For a local demonstration and the
# failover test: --auth trust and --ssl-self-signed; a production deployment puts each node on its
# own machine with scram-sha-256 and certificates (docs/ha.md says how).
#
#   scripts/ha/cluster.sh up    [DIR]   create (first time) and start the three nodes; print the URLs
#   scripts/ha/cluster.sh urls  [DIR]   the service's multi-host DATABASE_URL and the standby's URL
#   scripts/ha/cluster.sh state [DIR]   pg_autoctl show state
#   scripts/ha/cluster.sh kill-primary [DIR]   kill -9 the primary's pg_autoctl and PostgreSQL (a crash)
#   scripts/ha/cluster.sh down  [DIR]   stop every node and remove DIR
#
# Ports: HA_MONITOR_PORT (6000), HA_NODE1_PORT (6001), HA_NODE2_PORT (6002). Database: HA_DBNAME (jiangbu).
set -euo pipefail

cmd="${1:-}"
dir="${2:-${HA_DIR:-/tmp/jiangbu-ha}}"
monitor_port="${HA_MONITOR_PORT:-6000}"
node1_port="${HA_NODE1_PORT:-6001}"
node2_port="${HA_NODE2_PORT:-6002}"
dbname="${HA_DBNAME:-jiangbu}"
pgctl="$(ls -d /usr/lib/postgresql/15/bin/pg_ctl 2>/dev/null || command -v pg_ctl)"

as_pg() {
  if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- env PATH="$PATH" "$@"; fi
}

require_pg_autoctl() {
  if ! command -v pg_autoctl >/dev/null 2>&1; then
    echo "pg_autoctl is not installed: apt-get install postgresql-15-auto-failover" >&2
    exit 2
  fi
}

monitor_uri() {
  local uri
  uri="$(as_pg pg_autoctl show uri --pgdata "$dir/monitor" 2>/dev/null | awk -F'|' '$1 ~ /^ *monitor *$/ {gsub(/ /, "", $3); print $3}')"
  [ -n "$uri" ] && echo "$uri"
}

# Starts `pg_autoctl run` for a node in the background (its log in DIR/<node>.log, its pid in DIR/<node>.pid).
run_node() {
  local node="$1"
  if [ -f "$dir/$node.pid" ] && kill -0 "$(cat "$dir/$node.pid")" 2>/dev/null; then return 0; fi
  as_pg bash -c "nohup pg_autoctl run --pgdata '$dir/$node' >>'$dir/$node.log' 2>&1 & echo \$! >'$dir/$node.pid'"
}

wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "timed out waiting for $what" >&2
  return 1
}

primary_ready() {
  as_pg pg_autoctl show state --pgdata "$dir/monitor" 2>/dev/null | grep -Eq '(single|primary) +\| +(single|primary)'
}

secondary_ready() {
  as_pg pg_autoctl show state --pgdata "$dir/monitor" 2>/dev/null | grep -Eq 'secondary +\| +secondary'
}

up() {
  require_pg_autoctl
  as_pg mkdir -p "$dir"
  if [ ! -d "$dir/monitor" ]; then
    as_pg bash -c "pg_autoctl create monitor --pgdata '$dir/monitor' --pgport '$monitor_port' --hostname 127.0.0.1 \
      --auth trust --ssl-self-signed --pgctl '$pgctl' >>'$dir/monitor.log' 2>&1"
  fi
  run_node monitor
  wait_for "the monitor" 60 monitor_uri
  local mon
  mon="$(monitor_uri)"
  for n in 1 2; do
    local port_var="node${n}_port"
    if [ ! -d "$dir/node$n" ]; then
      as_pg bash -c "pg_autoctl create postgres --pgdata '$dir/node$n' --pgport '${!port_var}' --hostname 127.0.0.1 \
        --name 'node$n' --dbname '$dbname' --monitor '$mon' --auth trust --ssl-self-signed --pgctl '$pgctl' >>'$dir/node$n.log' 2>&1"
    fi
    run_node "node$n"
    # The first node becomes the primary before the second is created as its secondary.
    if [ "$n" = 1 ]; then wait_for "the primary" 120 primary_ready; fi
  done
  wait_for "the secondary" 180 secondary_ready
  urls
}

urls() {
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:${node1_port},127.0.0.1:${node2_port}/${dbname}?target_session_attrs=read-write"
  echo "standby (either node when it is the secondary): postgres://postgres@127.0.0.1:${node2_port}/${dbname}"
}

kill_primary() {
  local port
  port="$(as_pg pg_autoctl show state --pgdata "$dir/monitor" | awk -F'|' '$6 ~ /primary/ && $7 ~ /primary/ {print $3}' | grep -oE '[0-9]+$' | head -1)"
  for n in 1 2; do
    local port_var="node${n}_port"
    if [ "${!port_var}" = "$port" ]; then
      kill -9 "$(cat "$dir/node$n.pid")" 2>/dev/null || true
      kill -9 "$(head -1 "$dir/node$n/postmaster.pid")" 2>/dev/null || true
      echo "killed node$n (port $port)"
      return 0
    fi
  done
  echo "no primary found" >&2
  return 1
}

down() {
  for node in node2 node1 monitor; do
    if [ -d "$dir/$node" ]; then as_pg pg_autoctl stop --pgdata "$dir/$node" --immediate >/dev/null 2>&1 || true; fi
    if [ -f "$dir/$node.pid" ]; then kill "$(cat "$dir/$node.pid")" 2>/dev/null || true; fi
    if [ -f "$dir/$node/postmaster.pid" ]; then kill -9 "$(head -1 "$dir/$node/postmaster.pid")" 2>/dev/null || true; fi
  done
  rm -rf "$dir"
}

case "$cmd" in
  up) up ;;
  urls) urls ;;
  state) as_pg pg_autoctl show state --pgdata "$dir/monitor" ;;
  kill-primary) kill_primary ;;
  down) down ;;
  *)
    sed -n '2,15p' "$0"
    exit 64
    ;;
esac
