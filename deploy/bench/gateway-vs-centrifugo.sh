#!/usr/bin/env bash
# Gateway fan-out benchmark, Accord against Centrifugo v6, end to end on
# one machine: build accord and accord-bench (and Centrifugo, once, with
# go install), seed one guild with $MEMBERS members, then for each server
#   latency runs ($ROUNDS):        $LAT_CONNS connections, $RATE messages/s
#                                  for $DURATION to all of them: delivery
#                                  latency percentiles and deliveries/s
#   throughput runs ($THRU_ROUNDS): the same at $THRU_RATE, more than the
#                                  machine can deliver: deliveries/s at
#                                  saturation
#   memory runs ($MEM_ROUNDS):     $MEM_CONNS idle connections, RSS and Go
#                                  heap+stacks per connection
#   floor runs ($FLOOR_ROUNDS):    no server: the same payload written to
#                                  $LAT_CONNS raw loopback sockets at $RATE
#                                  (accord-bench tcp-floor), the least any
#                                  gateway can reach here
# on a fresh server each time, Accord and Centrifugo alternating, and print
# the comparison tables (median and range of the rounds). Every process it
# starts is stopped on exit, also on failure or Ctrl-C. See
# docs/benchmarks.md for results.
#
#   deploy/bench/gateway-vs-centrifugo.sh            # everything
#   ONLY=accord deploy/bench/gateway-vs-centrifugo.sh
#
# The load generator runs in $PROCS worker processes (one process may hold
# at most 20,000 open files here) from source addresses $SRC.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/accord-fanout}
MEMBERS=${MEMBERS:-15000}
MEM_CONNS=${MEM_CONNS:-15000}
LAT_CONNS=${LAT_CONNS:-10000}
PROCS=${PROCS:-4}
RAMP=${RAMP:-500}           # connections per second per worker process
RATE=${RATE:-5/s}
DURATION=${DURATION:-30s}
ROUNDS=${ROUNDS:-3}
THRU_RATE=${THRU_RATE:-20/s}
THRU_DURATION=${THRU_DURATION:-15s}
THRU_ROUNDS=${THRU_ROUNDS:-2}
MEM_ROUNDS=${MEM_ROUNDS:-1}
FLOOR_ROUNDS=${FLOOR_ROUNDS:-1}
MEM_IDLE=${MEM_IDLE:-200s}  # > 2 min: includes the Go runtime's forced GC
LAT_IDLE=${LAT_IDLE:-10s}
SIZE=${SIZE:-100}           # message content bytes
SRC=${SRC:-127.0.0.2-127.0.0.9}
ACCORD_ADDR=${ACCORD_ADDR:-127.0.0.1:18080}
CF_ADDR=${CF_ADDR:-127.0.0.1:18001}
CF_VERSION=${CF_VERSION:-v6.9.1}
CF_BIN_DIR=${CF_BIN_DIR:-$HOME/.cache/accord-bench/bin}
QUIET_IDLE=${QUIET_IDLE:-80}  # wait for the machine to be this % idle …
QUIET_WAIT=${QUIET_WAIT:-120} # … for at most this many seconds
ONLY=${ONLY:-}                # accord or centrifugo: run one side only

BENCH=$WORK/bin/accord-bench
ACCORD=$WORK/bin/accord
CF=$CF_BIN_DIR/centrifugo
mkdir -p "$WORK/bin" "$WORK/results"

SERVER_PID=
BENCH_PID=
cleanup() {
	# The load tool first: its workers exit with it (stdin closes, and
	# they get SIGKILL when their parent dies).
	if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
		kill -TERM "$BENCH_PID" 2>/dev/null || true
		wait "$BENCH_PID" 2>/dev/null || true
	fi
	BENCH_PID=
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s\n' "$*"; }

# idle_pct prints the machine's idle CPU % over 3 s.
idle_pct() {
	local a b
	read -r -a a < <(head -1 /proc/stat)
	sleep 3
	read -r -a b < <(head -1 /proc/stat)
	local tot=0 idle=$(( (b[4]+b[5]) - (a[4]+a[5]) ))
	for i in 1 2 3 4 5 6 7 8; do tot=$(( tot + b[i] - a[i] )); done
	echo $(( 100 * idle / (tot > 0 ? tot : 1) ))
}

# wait_quiet waits until other work leaves the machine mostly idle, so
# that runs are comparable; it gives up after $QUIET_WAIT s and says so.
wait_quiet() {
	local start=$SECONDS p
	while :; do
		p=$(idle_pct)
		if (( p >= QUIET_IDLE )); then echo "machine ${p}% idle"; return; fi
		if (( SECONDS - start >= QUIET_WAIT )); then
			echo "machine only ${p}% idle after ${QUIET_WAIT}s: running anyway (contended)"
			uptime; ps -eo pid,pcpu,comm --sort=-pcpu | head -6
			return
		fi
	done
}

port_free() {
	if curl -s -o /dev/null --max-time 1 "http://$1/"; then
		echo "something already listens on $1" >&2
		exit 1
	fi
}

start_accord() { # data dir
	port_free "$ACCORD_ADDR"
	rm -rf "$1" && cp -a "$WORK/seed" "$1"
	"$ACCORD" --listen "$ACCORD_ADDR" --data "$1" --rate-limits off --log-level warn >"$1.log" 2>&1 &
	SERVER_PID=$!
}

start_centrifugo() {
	port_free "$CF_ADDR"
	"$CF" -c "$WORK/centrifugo.json" >"$WORK/centrifugo.log" 2>&1 &
	SERVER_PID=$!
}

common=(--procs "$PROCS" --ramp "$RAMP" --src "$SRC" --size "$SIZE")

# bench runs the load tool in the background and waits for it, so that a
# signal to this script runs the cleanup at once, not after the run.
bench() {
	"$BENCH" "$@" &
	BENCH_PID=$!
	local rc=0
	wait "$BENCH_PID" || rc=$?
	BENCH_PID=
	return "$rc"
}

accord_run() { # name conns rate duration idle
	[[ $ONLY == centrifugo ]] && return
	log "accord: $1, $2 connections, rate $3"
	wait_quiet
	start_accord "$WORK/data-accord"
	bench gateway --url "http://$ACCORD_ADDR" --tokens "$WORK/tokens.txt" --conns "$2" --rate "$3" \
		--duration "$4" --idle "$5" "${common[@]}" --server-pid "$SERVER_PID" --json "$WORK/results/accord-$1.json"
	cleanup
}

centrifugo_run() { # name conns rate duration idle
	[[ $ONLY == accord ]] && return
	log "centrifugo: $1, $2 connections, rate $3"
	local frame=0
	# Frames as large as Accord's MESSAGE_CREATE, when that was measured.
	if [[ -f $WORK/results/accord-lat-1.json ]]; then
		frame=$(sed -n 's/.*"frame_bytes": *\([0-9]*\).*/\1/p' "$WORK/results/accord-lat-1.json")
	fi
	wait_quiet
	start_centrifugo
	bench centrifugo --url "http://$CF_ADDR" --api-key bench --conns "$2" --rate "$3" --frame-bytes "${frame:-0}" \
		--duration "$4" --idle "$5" "${common[@]}" --server-pid "$SERVER_PID" --json "$WORK/results/centrifugo-$1.json"
	cleanup
}

# files KIND SERVER N: the comma-separated result files of N rounds.
files() { local out=() i; for ((i = 1; i <= $3; i++)); do out+=("$WORK/results/$2-$1-$i.json"); done; (IFS=,; echo "${out[*]}"); }

log "build ($(cd "$ROOT" && git rev-parse --short HEAD), $(cd "$ROOT" && git status --short edge/gateway | wc -l) changed gateway files)"
(cd "$ROOT" && go build -o "$ACCORD" ./cmd/accord && go build -o "$BENCH" ./cmd/accord-bench)
if [[ $ONLY != accord && ! -x $CF ]]; then
	log "go install github.com/centrifugal/centrifugo/v6@$CF_VERSION"
	mkdir -p "$CF_BIN_DIR"
	start=$SECONDS
	(cd "$WORK" && GOBIN=$CF_BIN_DIR go install "github.com/centrifugal/centrifugo/v6@$CF_VERSION")
	echo "built in $((SECONDS - start)) s"
fi
"$BENCH" centrifugo-config --out "$WORK/centrifugo.json" --listen "$CF_ADDR" --api-key bench

log "seed one guild with $MEMBERS members"
rm -rf "$WORK/seed" "$WORK/results"/*.json
"$BENCH" seed-guild --data "$WORK/seed" --members "$MEMBERS" --out "$WORK/tokens.txt"

# Latency first, so Centrifugo's frames can be sized like Accord's.
for ((i = 1; i <= ROUNDS; i++)); do
	accord_run "lat-$i" "$LAT_CONNS" "$RATE" "$DURATION" "$LAT_IDLE"
	centrifugo_run "lat-$i" "$LAT_CONNS" "$RATE" "$DURATION" "$LAT_IDLE"
done
for ((i = 1; i <= FLOOR_ROUNDS; i++)); do
	log "tcp-floor: $LAT_CONNS raw sockets, rate $RATE, no server"
	frame=932
	if [[ -f $WORK/results/accord-lat-1.json ]]; then
		frame=$(sed -n 's/.*"frame_bytes": *\([0-9]*\).*/\1/p' "$WORK/results/accord-lat-1.json")
	fi
	wait_quiet
	bench tcp-floor --conns "$LAT_CONNS" --rate "$RATE" --duration "$DURATION" --size "${frame:-932}" \
		--src "$SRC" --json "$WORK/results/floor-lat-$i.json"
done
for ((i = 1; i <= THRU_ROUNDS; i++)); do
	accord_run "thru-$i" "$LAT_CONNS" "$THRU_RATE" "$THRU_DURATION" "$LAT_IDLE"
	centrifugo_run "thru-$i" "$LAT_CONNS" "$THRU_RATE" "$THRU_DURATION" "$LAT_IDLE"
done
for ((i = 1; i <= MEM_ROUNDS; i++)); do
	accord_run "mem-$i" "$MEM_CONNS" 0 1s "$MEM_IDLE"
	centrifugo_run "mem-$i" "$MEM_CONNS" 0 1s "$MEM_IDLE"
done

log "summary: memory and latency ($RATE)"
"$BENCH" fanout-table --accord-mem "$(files mem accord "$MEM_ROUNDS")" --centrifugo-mem "$(files mem centrifugo "$MEM_ROUNDS")" \
	--accord-lat "$(files lat accord "$ROUNDS")" --centrifugo-lat "$(files lat centrifugo "$ROUNDS")"
if ((THRU_ROUNDS > 0)); then
	log "summary: throughput ($THRU_RATE offered)"
	"$BENCH" fanout-table --accord-lat "$(files thru accord "$THRU_ROUNDS")" --centrifugo-lat "$(files thru centrifugo "$THRU_ROUNDS")"
fi
for ((i = 1; i <= FLOOR_ROUNDS; i++)); do
	log "tcp-floor round $i (no server; ms and µs per delivery)"
	grep -E '"(p50|p99|max)_ms"|cpu_us' "$WORK/results/floor-lat-$i.json"
done
echo "results: $WORK/results"
