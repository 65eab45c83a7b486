#!/usr/bin/env bash
# before-after.sh: the same load on two commits, in one run on one machine,
# for the before/after figures in docs/benchmarks.md.
#
#   deploy/bench/before-after.sh BEFORE [AFTER]     (AFTER defaults to HEAD)
#
# Each commit is checked out into a worktree under $WORK and built there;
# then, alternating before and after:
#   rest    ($ROUNDS rounds) one node, embedded store: accord-bench rest,
#           $CLIENTS clients for $DURATION over $CHANNELS channels
#   region  (once each, unless REGION=0) deploy/bench/region.sh of that
#           commit: one node and a 3-node region on Cassandra, one shard
#           and all shards (Cassandra is started here and stopped after)
#   fanout  (once each, unless FANOUT=0) deploy/bench/gateway-vs-centrifugo.sh
#           of that commit with ONLY=accord: delivery latency to
#           $MEMBERS connected members
# Results go to $WORK/results/<commit>-<what>.txt and are summed up at the
# end. Every process it starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
before=${1:?usage: before-after.sh BEFORE [AFTER]}
after=${2:-HEAD}
WORK=${WORK:-/tmp/accord-before-after}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-64}
CHANNELS=${CHANNELS:-64}
DURATION=${DURATION:-15s}
REGION=${REGION:-1}
FANOUT=${FANOUT:-1}
MEMBERS=${MEMBERS:-10000}

rm -rf "$WORK"
mkdir -p "$WORK/results"
declare -A tree sha
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ $REGION == 1 ]]; then
		"$root/deploy/cassandra/cassandra.sh" stop >/dev/null 2>&1 || true
	fi
	for side in before after; do
		[[ -n ${tree[$side]:-} ]] && git -C "$root" worktree remove --force "${tree[$side]}" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for side in before after; do
	ref=$before
	[[ $side == after ]] && ref=$after
	sha[$side]=$(git -C "$root" rev-parse --short "$ref")
	tree[$side]=$WORK/$side
	git -C "$root" worktree add --detach "${tree[$side]}" "${sha[$side]}" >/dev/null
	(cd "${tree[$side]}" && go build -o "$WORK/$side-accord" ./cmd/accord && go build -o "$WORK/$side-bench" ./cmd/accord-bench)
done
echo "machine: $(nproc) vCPU; before ${sha[before]}, after ${sha[after]}; $(date -u +%FT%TZ)"

rest() { # side round
	local side=$1 data=$WORK/data-$1-$2 out=$WORK/results/${sha[$1]}-rest-$2.txt
	"$WORK/$side-accord" --listen 127.0.0.1:18090 --data "$data" --rate-limits off --log-level warn >"$data.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:18090/healthz >/dev/null 2>&1 && break; sleep 0.1; done
	"$WORK/$side-bench" rest --url http://127.0.0.1:18090 --clients "$CLIENTS" --duration "$DURATION" --warmup 3s \
		--channels "$CHANNELS" --verify 2000 >"$out" 2>&1
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
	rm -rf "$data"
	echo "== rest, $side (${sha[$side]}), round $2"
	sed 's/^/   /' "$out"
}

for round in $(seq 1 "$ROUNDS"); do
	rest before "$round"
	rest after "$round"
done

if [[ $REGION == 1 ]]; then
	"$root/deploy/cassandra/cassandra.sh" start >/dev/null
	for side in before after; do
		out=$WORK/results/${sha[$side]}-region.txt
		(cd "${tree[$side]}" && OUT=$WORK/region-$side deploy/bench/region.sh) >"$out" 2>&1
		echo "== region, $side (${sha[$side]})"
		sed 's/^/   /' "$out"
	done
	"$root/deploy/cassandra/cassandra.sh" stop >/dev/null
fi

if [[ $FANOUT == 1 ]]; then
	for side in before after; do
		out=$WORK/results/${sha[$side]}-fanout.txt
		(cd "${tree[$side]}" && WORK=$WORK/fanout-$side ONLY=accord MEMBERS=$MEMBERS LAT_CONNS=$MEMBERS ROUNDS=1 \
			THRU_ROUNDS=0 MEM_ROUNDS=0 FLOOR_ROUNDS=0 DURATION=20s deploy/bench/gateway-vs-centrifugo.sh) >"$out" 2>&1
		echo "== fanout, $side (${sha[$side]})"
		sed 's/^/   /' "$out" | tail -25
	done
fi
