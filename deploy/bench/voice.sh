#!/usr/bin/env bash
# SFU benchmark: bots' UDP voice through one Accord node on this machine.
# Builds accord and accord-bench, seeds one guild with enough members, then
# for each channel count in $CHANNELS starts a fresh node (rate limits off)
# and runs `accord-bench voice`: channels of $SIZE members, $SPEAKERS of
# whom talk (50 packets/s each, carrying their send time), the rest listen.
# Prints, per run, down-tracks, the server's CPU, down-tracks per core,
# loss and send-to-receive latency; the JSON results go to $WORK/results.
# Every process it starts is stopped on exit. See docs/benchmarks.md.
#
#   deploy/bench/voice.sh
#   CHANNELS="20 60 100" DURATION=30s deploy/bench/voice.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-/tmp/accord-voice}
CHANNELS=${CHANNELS:-"10 50 100"}
SIZE=${SIZE:-10}
SPEAKERS=${SPEAKERS:-2}
DURATION=${DURATION:-20s}
ADDR=${ADDR:-127.0.0.1:18090}

mkdir -p "$WORK/bin" "$WORK/results"
SERVER_PID=
cleanup() {
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

(cd "$ROOT" && go build -o "$WORK/bin/accord" ./cmd/accord && go build -o "$WORK/bin/accord-bench" ./cmd/accord-bench)
max=0
for c in $CHANNELS; do ((c > max)) && max=$c; done
members=$((1 + max * SIZE))

for c in $CHANNELS; do
	data=$WORK/data-$c
	rm -rf "$data"
	"$WORK/bin/accord-bench" seed-guild --data "$data" --members "$members" --out "$data/tokens.txt" >/dev/null
	"$WORK/bin/accord" serve --listen "$ADDR" --data "$data" --rate-limits off --log-level warn --turn off >"$WORK/server-$c.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done
	echo "== $c channels of $SIZE, $SPEAKERS speakers each"
	"$WORK/bin/accord-bench" voice --url "http://$ADDR" --tokens "$data/tokens.txt" --channels "$c" --size "$SIZE" \
		--speakers "$SPEAKERS" --duration "$DURATION" --server-pid "$SERVER_PID" --json "$WORK/results/voice-$c.json"
	cleanup
done
