#!/usr/bin/env bash
# Store backends side by side (issue 3): the embedded Pebble store and
# Cassandra (2 DCs, one node each, RF 1 per DC, LOCAL_QUORUM), measured by
# one `go test` invocation that runs BenchmarkStores (pebblestore) and then
# BenchmarkCassandraStores (cassandra) back to back with the same scale:
#
#   Populate       $MESSAGES messages over $CHANNELS channels, spread over
#                  150 days (15 ten-day buckets), $COMMITTERS concurrent
#                  committers, batches of <= 50 messages of one bucket
#   CommitMessage  $COMMITTERS concurrent committers, one message per Commit
#   Latest50       latest page of 50 of a random channel: p50/p99
#   DeepHistory10  before-page of 50 anchored 10 buckets (100 days) behind
#                  the newest message, random channel: p50/p99
#
# It starts the 2-DC cluster (deploy/cassandra/cassandra.sh start --two-dc),
# waits until the 1-minute load average is below $MAX_LOAD (the machine may
# be shared), samples how the CPU is shared every 10 s during the run,
# prints a table, and stops the cluster on exit, also on failure.
#
#   deploy/bench/stores.sh
#   MESSAGES=100000 CHANNELS=100 deploy/bench/stores.sh    # quick
#
# Output goes to $OUT: bench.txt (go test), cpu.log (CPU samples),
# table.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/accord-bench-stores}
MESSAGES=${MESSAGES:-1000000}
CHANNELS=${CHANNELS:-1000}
COMMITTERS=${COMMITTERS:-64}
BENCHTIME=${BENCHTIME:-5s}
MAX_LOAD=${MAX_LOAD:-1.0}
QUIET_WAIT=${QUIET_WAIT:-600}
CASSANDRA="$ROOT/deploy/cassandra/cassandra.sh"

log() { printf '%s stores.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

SAMPLER=
cleanup() {
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  log "stopping the Cassandra cluster"
  "$CASSANDRA" stop || true
}
trap cleanup EXIT

mkdir -p "$OUT"
rm -f "$OUT/bench.txt" "$OUT/cpu.log" "$OUT/table.md"

# wait_quiet polls the 1-minute load average every 10 s until it is below
# $MAX_LOAD, for at most $QUIET_WAIT seconds, and logs what it saw.
wait_quiet() {
  local waited=0 load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN { exit !(l < m) }'; then
      log "load average $load < $MAX_LOAD after ${waited}s: starting"
      return 0
    fi
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      log "load average still $load after ${waited}s: starting anyway (contended)"
      return 0
    fi
    log "load average $load >= $MAX_LOAD, waiting"
    sleep 10
    waited=$((waited + 10))
  done
}

# jiffies prints the CPU time (user+sys, clock ticks) of the processes
# whose command line matches $1.
jiffies() {
  local pid sum=0 t
  for pid in $(pgrep -f "$1" || true); do
    t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    sum=$((sum + t))
  done
  echo "$sum"
}

# sample logs, every 10 s, how the whole machine's CPU was shared: the
# test binary, the Cassandra JVMs, everything else, idle; % of all CPUs.
sample() {
  local ncpu prev_busy prev_total prev_t prev_c busy total t c db dt dtt dc phase
  ncpu=$(nproc)
  read -r prev_busy prev_total < <(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
  prev_t=$(jiffies '\.test -test\.')
  prev_c=$(jiffies 'org\.apache\.cassandra')
  echo "time load1 phase test% cassandra% other% idle%"
  while sleep 10; do
    read -r busy total < <(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    t=$(jiffies '\.test -test\.')
    c=$(jiffies 'org\.apache\.cassandra')
    phase=$( (pgrep -a -f '\.test -test\.' || true) | grep -o '[a-z]*\.test' | head -n1)
    db=$((busy - prev_busy)); dtt=$((total - prev_total))
    dt=$((t - prev_t)); dc=$((c - prev_c))
    [ "$dt" -lt 0 ] && dt=0
    [ "$dc" -lt 0 ] && dc=0
    awk -v now="$(date -u +%H:%M:%S)" -v l="$(cut -d' ' -f1 /proc/loadavg)" -v ph="${phase:--}" \
      -v db="$db" -v tot="$dtt" -v dt="$dt" -v dc="$dc" 'BEGIN {
        if (tot <= 0) exit
        o = db - dt - dc; if (o < 0) o = 0
        printf "%s %s %s %.0f %.0f %.0f %.0f\n", now, l, ph, 100*dt/tot, 100*dc/tot, 100*o/tot, 100*(tot-db)/tot
      }'
    prev_busy=$busy; prev_total=$total; prev_t=$t; prev_c=$c
  done
}

log "starting the 2-DC Cassandra cluster"
"$CASSANDRA" start --two-dc

cd "$ROOT"
log "building the test binaries"
go test -count=1 -run '^$' -bench '^$' ./core/store/pebblestore/ ./core/store/cassandra/ >/dev/null

wait_quiet
sample >"$OUT/cpu.log" &
SAMPLER=$!

log "running: $MESSAGES messages over $CHANNELS channels, $COMMITTERS committers, -benchtime $BENCHTIME"
start=$(date +%s)
ACCORD_BENCH_MESSAGES=$MESSAGES ACCORD_BENCH_CHANNELS=$CHANNELS ACCORD_BENCH_COMMITTERS=$COMMITTERS \
ACCORD_CASSANDRA_HOSTS=127.0.0.1 ACCORD_CASSANDRA_DC=dc1 ACCORD_CASSANDRA_REPLICATION=dc1:1,dc2:1 \
ACCORD_REQUIRE_CASSANDRA=1 \
  go test -p 1 -count=1 -timeout 60m -run '^$' -bench '^Benchmark(Cassandra)?Stores$' -benchtime "$BENCHTIME" -v \
    ./core/store/pebblestore/ ./core/store/cassandra/ 2>&1 | tee "$OUT/bench.txt"
log "go test took $(($(date +%s) - start)) s"
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

# The table: one row per backend, from the benchmark lines.
awk -v msgs="$MESSAGES" -v chans="$CHANNELS" -v comm="$COMMITTERS" '
  function metric(unit,   i) { for (i = 3; i < NF; i++) if ($(i+1) == unit) return $i; return "" }
  /^Benchmark(Cassandra)?Stores\// {
    be = ($1 ~ /^BenchmarkCassandra/) ? "Cassandra (2 DCs, RF 1+1, LOCAL_QUORUM)" : "Pebble (synced)"
    if (!(be in seen)) { seen[be] = 1; order[++n] = be }
    if ($1 ~ /\/Populate/) { pop[be] = metric("msgs/s"); pops[be] = metric("s") }
    if ($1 ~ /\/CommitMessage/) com[be] = metric("msgs/s")
    if ($1 ~ /\/Latest50/) { l50[be] = metric("p50-µs"); l99[be] = metric("p99-µs") }
    if ($1 ~ /\/DeepHistory10/) { d50[be] = metric("p50-µs"); d99[be] = metric("p99-µs") }
  }
  END {
    printf "%d messages over %d channels, %d concurrent committers. Latencies in ms.\n\n", msgs, chans, comm
    print "| backend | populate msgs/s (batches of <= 50) | populate time | CommitMessage msgs/s (1 msg/Commit) | latest-50 p50 | latest-50 p99 | 10 buckets back p50 | 10 buckets back p99 |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      be = order[i]
      printf "| %s | %.0f | %.1f s | %.0f | %.2f | %.2f | %.2f | %.2f |\n", be, pop[be], pops[be], com[be], l50[be]/1000, l99[be]/1000, d50[be]/1000, d99[be]/1000
    }
  }' "$OUT/bench.txt" | tee "$OUT/table.md"
echo
echo "CPU during the run (% of all $(nproc) CPUs, 10 s samples; $OUT/cpu.log):"
cat "$OUT/cpu.log"
