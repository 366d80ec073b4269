#!/usr/bin/env bash
# A pg_auto_failover formation on one machine (docs/ha.md): a monitor, a primary and a synchronous
# secondary, on loopback ports, run as the `postgres` OS user. For a local demonstration and the
# failover test: --auth trust and --ssl-self-signed; a production deployment puts each node on its
# own machine with scram-sha-256 and certificates (docs/ha.md says how).
#
#   scripts/ha/cluster.sh up    [DIR]   create (first time) and start the three nodes, wait until the primary
#                                       has its synchronous secondary, print the URLs (after kill-primary:
#                                       the killed node rejoins as the secondary)
#   scripts/ha/cluster.sh urls  [DIR]   the service's DATABASE_URL and DATABASE_REPLICA_URL (both nodes each)
#   scripts/ha/cluster.sh state [DIR]   pg_autoctl show state
#   scripts/ha/cluster.sh kill-primary [DIR]   kill -9 the primary's keeper (its process group) and PostgreSQL
#   scripts/ha/cluster.sh down  [DIR]   stop every node and remove DIR
#
# Ports: HA_MONITOR_PORT (6000), HA_NODE1_PORT (6001), HA_NODE2_PORT (6002). Database: HA_DBNAME (jiangbu).
#
# Failover timing (docs/ha.md): pg_auto_failover's defaults take about a minute from a crash to a writable
# primary (20 s before a node is unhealthy, then 30 s waiting for the old primary to demote itself). On
# loopback the monitor checks every second instead: HA_UNHEALTHY_MS (4000) without news before a node is
# unhealthy, HA_DEMOTE_TIMEOUT_MS (8000) before the standby is writable when the old primary says nothing,
# and each keeper demotes its own primary after HA_PARTITION_S (4) seconds alone, before that, so two
# primaries never take writes. HA_DEFAULT_TIMINGS=1 keeps pg_auto_failover's defaults.
set -euo pipefail

cmd="${1:-}"
dir="${2:-${HA_DIR:-/tmp/jiangbu-ha}}"
monitor_port="${HA_MONITOR_PORT:-6000}"
node1_port="${HA_NODE1_PORT:-6001}"
node2_port="${HA_NODE2_PORT:-6002}"
dbname="${HA_DBNAME:-jiangbu}"
unhealthy_ms="${HA_UNHEALTHY_MS:-4000}"
demote_timeout_ms="${HA_DEMOTE_TIMEOUT_MS:-8000}"
partition_s="${HA_PARTITION_S:-4}"
pgctl="$(ls -d /usr/lib/postgresql/15/bin/pg_ctl 2>/dev/null || command -v pg_ctl)"

# pg_autoctl keeps each node's configuration and state under XDG_CONFIG_HOME and XDG_DATA_HOME (by
# default in the postgres user's home, keyed by the data directory): they live in DIR, so that `down`
# leaves nothing behind that a later `up` in the same DIR would mistake for its own.
as_pg() {
  local xdg=(XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data")
  if [ "$(id -un)" = postgres ]; then env "${xdg[@]}" "$@"; else runuser -u postgres -- env PATH="$PATH" "${xdg[@]}" "$@"; fi
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

# The monitor's health checks (pgautofailover.* settings), faster than the defaults on loopback.
tune_monitor() {
  as_pg psql -X -q -h 127.0.0.1 -p "$monitor_port" -d pg_auto_failover -v ON_ERROR_STOP=1 <<SQL
ALTER SYSTEM SET pgautofailover.health_check_period = 1000;
ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000;
ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1;
ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500;
ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = $unhealthy_ms;
ALTER SYSTEM SET pgautofailover.primary_demote_timeout = $demote_timeout_ms;
SELECT pg_reload_conf() \\gset
SQL
}

# Starts `pg_autoctl run` for a node in the background, in a process group of its own (its log in
# DIR/<node>.log, the group's id in DIR/<node>.pid): the keeper's sub-processes restart PostgreSQL, so a
# crash or a stop must take the whole group, not only the supervisor.
run_node() {
  local node="$1"
  if [ -f "$dir/$node.pid" ] && kill -0 -- "-$(cat "$dir/$node.pid")" 2>/dev/null; then return 0; fi
  as_pg bash -c "setsid nohup pg_autoctl run --pgdata '$dir/$node' >>'$dir/$node.log' 2>&1 </dev/null & echo \$! >'$dir/$node.pid'"
}

# kill -9 a node's process group and its PostgreSQL (which pg_ctl may have put in a group of its own).
kill_node() {
  local node="$1"
  if [ -f "$dir/$node.pid" ]; then kill -9 -- "-$(cat "$dir/$node.pid")" 2>/dev/null || true; fi
  if [ -f "$dir/$node/postmaster.pid" ]; then kill -9 "$(head -1 "$dir/$node/postmaster.pid")" 2>/dev/null || true; fi
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

# Both settled: the primary has its synchronous secondary.
formation_ready() {
  local state
  state="$(as_pg pg_autoctl show state --pgdata "$dir/monitor" 2>/dev/null)"
  grep -Eq 'secondary +\| +secondary' <<<"$state" && grep -Eq ' primary +\| +primary' <<<"$state"
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
  if [ "${HA_DEFAULT_TIMINGS:-0}" != 1 ]; then tune_monitor; fi
  local mon
  mon="$(monitor_uri)"
  for n in 1 2; do
    local port_var="node${n}_port"
    if [ ! -d "$dir/node$n" ]; then
      as_pg bash -c "pg_autoctl create postgres --pgdata '$dir/node$n' --pgport '${!port_var}' --hostname 127.0.0.1 \
        --name 'node$n' --dbname '$dbname' --monitor '$mon' --auth trust --ssl-self-signed --pgctl '$pgctl' >>'$dir/node$n.log' 2>&1"
    fi
    if [ "${HA_DEFAULT_TIMINGS:-0}" != 1 ]; then
      as_pg pg_autoctl config set --pgdata "$dir/node$n" timeout.network_partition_timeout "$partition_s" >/dev/null
    fi
    run_node "node$n"
    # The first node becomes the primary before the second is created as its secondary.
    if [ "$n" = 1 ]; then wait_for "the primary" 120 primary_ready; fi
  done
  wait_for "the primary and its secondary" 180 formation_ready
  urls
}

# Both name the two nodes: the service's pools choose the one whose role suits (db/multi-host.ts), before and after a failover.
urls() {
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:${node1_port},127.0.0.1:${node2_port}/${dbname}?target_session_attrs=read-write"
  echo "DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:${node1_port},127.0.0.1:${node2_port}/${dbname}?target_session_attrs=standby"
}

kill_primary() {
  local port
  port="$(as_pg pg_autoctl show state --pgdata "$dir/monitor" | awk -F'|' '$6 ~ /primary/ && $7 ~ /primary/ {gsub(/ /, "", $3); sub(/.*:/, "", $3); print $3; exit}')"
  for n in 1 2; do
    local port_var="node${n}_port"
    if [ "${!port_var}" = "$port" ]; then
      kill_node "node$n"
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
    kill_node "$node"
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
    sed -n '2,22p' "$0"
    exit 64
    ;;
esac
