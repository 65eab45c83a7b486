#!/usr/bin/env bash
# Runs a local Apache Cassandra cluster from Maven Central's jars (no
# tarball, no Docker) for development and the cassandra store's tests.
#
#   cassandra.sh start [--two-dc] [--keep]   start dc1 (and dc2), wait for CQL
#   cassandra.sh stop                        stop every node, wait for exit
#   cassandra.sh status                      show each node's state
#   cassandra.sh stop-node NAME              stop one node (dc1 or dc2)
#   cassandra.sh start-node NAME             start it again on its data
#
# Node dc1 listens on 127.0.0.1 and dc2 on 127.0.0.2 (loopback aliases need
# no setup on Linux), both with CQL on 9042 and storage on 7000. Each node
# is its own datacenter (GossipingPropertyFileSnitch), so a keyspace with
# NetworkTopologyStrategy {'dc1': 1, 'dc2': 1} has a replica in each.
#
# Environment:
#   ACCORD_CASSANDRA_DIR      run directory (default /tmp/accord-cassandra);
#                             start wipes it unless --keep
#   ACCORD_CACHE              cache root (default ~/.cache/accord); the jars
#                             go to $ACCORD_CACHE/cassandra-jars and are reused
#   ACCORD_CASSANDRA_VERSION  cassandra-all version (default 5.0.8)
#   ACCORD_CASSANDRA_HEAP     -Xms/-Xmx of each node (default 512M)
#   ACCORD_CASSANDRA_TIMEOUT  seconds to wait for a node's CQL (default 180)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${ACCORD_CASSANDRA_DIR:-/tmp/accord-cassandra}"
CACHE="${ACCORD_CACHE:-$HOME/.cache/accord}"
VERSION="${ACCORD_CASSANDRA_VERSION:-5.0.8}"
JARS="$CACHE/cassandra-jars/$VERSION"
HEAP="${ACCORD_CASSANDRA_HEAP:-512M}"
TIMEOUT="${ACCORD_CASSANDRA_TIMEOUT:-180}"
SEEDS="127.0.0.1:7000"

log() { printf '%s cassandra.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

node_addr() {
  case "$1" in
    dc1) echo 127.0.0.1 ;;
    dc2) echo 127.0.0.2 ;;
    *) die "unknown node '$1' (want dc1 or dc2)" ;;
  esac
}

# JMX listens on localhost for both nodes, so the ports must differ.
node_jmx() {
  case "$1" in
    dc1) echo 7199 ;;
    dc2) echo 7299 ;;
  esac
}

# java_major prints the feature version of the java binary $1.
java_major() {
  "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1
}

# Cassandra 5.0 runs on JDK 17; JDK 24+ fails (it calls
# System.setSecurityManager), and 4.1 and older need JDK 11.
find_java() {
  local c v
  for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/java-17-openjdk-*/bin/java "$(command -v java || true)"; do
    [ -x "$c" ] || continue
    v="$(java_major "$c")"
    if [ -n "$v" ] && [ "$v" -ge 17 ] && [ "$v" -le 23 ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

# ensure_tools installs a JDK 17 and Maven when missing, so a fresh machine
# (or CI) needs nothing but this script.
ensure_tools() {
  local need=()
  find_java >/dev/null || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || need+=(maven)
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing ${need[*]}: install a JDK 17 and Maven"
  fi
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  find_java >/dev/null || die "no JDK 17–23 after installing ${need[*]}"
}

# fetch_jars copies cassandra-all and its runtime dependencies into $JARS
# once; later runs reuse them. The marker is written last, so an
# interrupted download is redone.
fetch_jars() {
  [ -f "$JARS/.complete" ] && return 0
  log "fetching cassandra-all $VERSION and its runtime dependencies into $JARS"
  local tmp="$JARS.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" -Dcassandra.version="$VERSION" >&2; then
    rm -rf "$tmp"
    die "mvn could not fetch cassandra-all $VERSION"
  fi
  rm -rf "$JARS"
  mv "$tmp" "$JARS"
  touch "$JARS/.complete"
  log "fetched $(ls "$JARS"/*.jar | wc -l) jars"
}

# write_conf renders the node's configuration from conf/*.tmpl.
write_conf() {
  local name="$1" dir="$RUN/$1" addr
  addr="$(node_addr "$name")"
  mkdir -p "$dir/conf" "$dir/logs" "$dir/data" "$dir/commitlog" "$dir/hints" "$dir/saved_caches" "$dir/cdc_raw"
  sed -e "s|@ADDR@|$addr|g" -e "s|@DIR@|$dir|g" -e "s|@SEEDS@|$SEEDS|g" \
    "$HERE/conf/cassandra.yaml.tmpl" >"$dir/conf/cassandra.yaml"
  sed -e "s|@DC@|$name|g" "$HERE/conf/cassandra-rackdc.properties.tmpl" \
    >"$dir/conf/cassandra-rackdc.properties"
  cp "$HERE/conf/logback.xml" "$dir/conf/logback.xml"
}

node_pid() {
  local f="$RUN/$1/pid"
  [ -f "$f" ] || return 1
  local pid
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

cql_open() { (exec 3<>"/dev/tcp/$1/9042") 2>/dev/null; }

# start_node launches one JVM and waits until it accepts CQL clients.
start_node() {
  local name="$1" dir="$RUN/$1" java jamm addr started
  addr="$(node_addr "$name")"
  [ -f "$dir/conf/cassandra.yaml" ] || die "node $name has no configuration in $dir; run '$0 start' first"
  if node_pid "$name" >/dev/null; then
    log "node $name is already running (pid $(node_pid "$name"))"
    return 0
  fi
  java="$(find_java)" || die "no JDK 17–23 found"
  jamm="$(ls "$JARS"/jamm-*.jar | head -n1)"
  # A fresh log per start, so the wait below cannot see an old ready line.
  [ -f "$dir/logs/system.log" ] && mv "$dir/logs/system.log" "$dir/logs/system.log.prev"

  # The --add-exports/--add-opens list is Cassandra 5.0's
  # conf/jvm17-server.options: without it the JVM dies early.
  local opts=(
    "-Xms$HEAP" "-Xmx$HEAP" -XX:MaxDirectMemorySize=256M -Xss512k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
    -XX:+PerfDisableSharedMem -XX:CICompilerCount=2 -XX:+ExitOnOutOfMemoryError
    "-javaagent:$jamm"
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
    --add-exports java.base/sun.nio.ch=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    --add-opens java.base/java.util.concurrent=ALL-UNNAMED
    --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    -Djava.net.preferIPv4Stack=true
    "-Dcassandra.config=file://$dir/conf/cassandra.yaml"
    "-Dcassandra-rackdc.properties=file://$dir/conf/cassandra-rackdc.properties"
    "-Dlogback.configurationFile=file://$dir/conf/logback.xml"
    "-Dcassandra.logdir=$dir/logs"
    "-Dcassandra.storagedir=$dir"
    "-Dcassandra.jmx.local.port=$(node_jmx "$name")"
    -Dcassandra-foreground=yes
    # Development only: no fsync of system tables, no gossip settling, a
    # one-second ring delay instead of thirty.
    -Dcassandra.unsafesystem=true
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.superuser_setup_delay_ms=0
  )
  log "starting node $name on $addr (heap $HEAP)"
  started=$SECONDS
  # setsid: the node must outlive this script and not get its signals.
  setsid "$java" "${opts[@]}" -cp "$JARS/*" org.apache.cassandra.service.CassandraDaemon \
    >"$dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"

  local pid
  pid="$(cat "$dir/pid")"
  while :; do
    if grep -q "Starting listening for CQL clients" "$dir/logs/system.log" 2>/dev/null; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      fail_node "$name" "exited before accepting CQL clients"
    fi
    if [ $((SECONDS - started)) -ge "$TIMEOUT" ]; then
      kill -9 "$pid" 2>/dev/null || true
      fail_node "$name" "did not accept CQL clients within ${TIMEOUT}s"
    fi
    sleep 1
  done
  log "node $name ready: CQL on $addr:9042, datacenter $name, pid $pid, $((SECONDS - started))s"
}

fail_node() {
  local name="$1" dir="$RUN/$1"
  log "node $name $2; last lines of its logs:"
  tail -n 40 "$dir/logs/system.log" >&2 2>/dev/null || true
  tail -n 20 "$dir/logs/stdout.log" >&2 2>/dev/null || true
  rm -f "$dir/pid"
  exit 1
}

# stop_node sends SIGTERM (Cassandra drains and announces its shutdown
# through gossip, so the other DC marks it down at once) and waits;
# SIGKILL after 60 s.
stop_node() {
  local name="$1" pid i
  if ! pid="$(node_pid "$name")"; then
    rm -f "$RUN/$name/pid"
    return 0
  fi
  log "stopping node $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "node $name did not exit in 60s; killing it"
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$RUN/$name/pid"
  log "node $name stopped"
}

# wait_up waits until node $1's log says node $2 is up in gossip, looking
# only at lines after $3. Clients need both DCs in the ring before they
# create a keyspace with replicas in both.
wait_up() {
  local log="$RUN/$1/logs/system.log" peer from="$3" i
  peer="$(node_addr "$2")"
  for ((i = 0; i < 60; i++)); do
    if tail -n +"$((from + 1))" "$log" 2>/dev/null | grep -q "/$peer:7000.*now UP"; then
      return 0
    fi
    sleep 1
  done
  log "warning: node $1 has not seen node $2 up after 60s"
}

nodes_present() {
  local n
  for n in dc1 dc2; do
    [ -d "$RUN/$n" ] && echo "$n"
  done
  return 0
}

cmd_start() {
  local two=0 keep=0 a
  for a in "$@"; do
    case "$a" in
      --two-dc) two=1 ;;
      --keep) keep=1 ;;
      *) die "start: unknown option $a" ;;
    esac
  done
  ensure_tools
  fetch_jars
  for a in $(nodes_present | tac); do stop_node "$a"; done
  if [ "$keep" -eq 0 ]; then
    # A node refuses to start on data made under another DC name, and
    # tests want an empty cluster: start from nothing.
    rm -rf "$RUN"
  fi
  mkdir -p "$RUN"
  local nodes=(dc1)
  [ "$two" -eq 1 ] && nodes+=(dc2)
  local t0=$SECONDS
  write_conf dc1
  start_node dc1
  if [ "$two" -eq 1 ]; then
    local before=0
    before="$(wc -l <"$RUN/dc1/logs/system.log")"
    write_conf dc2
    start_node dc2
    wait_up dc1 dc2 "$before"
  fi
  printf '%s\n' "${nodes[@]}" >"$RUN/nodes"
  log "cluster ready in $((SECONDS - t0))s"
  echo "contact points: $(for n in "${nodes[@]}"; do printf '%s ' "$(node_addr "$n")"; done)"
  for n in "${nodes[@]}"; do
    echo "datacenter $n: $(node_addr "$n"):9042"
  done
  echo "use: ACCORD_CASSANDRA_HOSTS=127.0.0.1 ACCORD_CASSANDRA_DC=dc1"
}

cmd_stop() {
  local n
  for n in $(nodes_present | tac); do stop_node "$n"; done
}

cmd_status() {
  local n pid state any=1
  for n in $(nodes_present); do
    if pid="$(node_pid "$n")"; then
      state="running (pid $pid)"
      if cql_open "$(node_addr "$n")"; then state="$state, CQL open"; else state="$state, CQL not open"; fi
      any=0
    else
      state="stopped"
    fi
    echo "node $n ($(node_addr "$n"), datacenter $n): $state"
  done
  return $any
}

cmd_start_node() {
  [ $# -eq 1 ] || die "usage: $0 start-node NAME"
  node_addr "$1" >/dev/null
  ensure_tools
  fetch_jars
  local before=0 other
  other=$([ "$1" = dc1 ] && echo dc2 || echo dc1)
  if node_pid "$other" >/dev/null; then
    before="$(wc -l <"$RUN/$other/logs/system.log")"
  fi
  start_node "$1"
  if node_pid "$other" >/dev/null; then wait_up "$other" "$1" "$before"; fi
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    stop-node)
      [ $# -eq 1 ] || die "usage: $0 stop-node NAME"
      node_addr "$1" >/dev/null
      stop_node "$1"
      ;;
    start-node) cmd_start_node "$@" ;;
    *) die "usage: $0 start [--two-dc] [--keep] | stop | status | stop-node NAME | start-node NAME" ;;
  esac
}

main "$@"
