#!/usr/bin/env bash
# region.sh: committed messages per second and commit latency of a 3-node
# region against a single node, in one run, for docs/benchmarks.md.
#
#   deploy/bench/region.sh            (Cassandra must be running: deploy/cassandra/cassandra.sh start)
#
# Each setup gets the same load from accord-bench rest (CLIENTS clients
# posting 100-byte messages as fast as they are answered, for DURATION):
# "one shard" puts every channel in one guild, so one Raft group orders
# everything; "all shards" spreads 64 guilds over the 16 shards. Latency is
# the REST create's: the answer comes once the message is committed by a
# quorum and applied on the node that answers. In the region the clients
# are spread over the three nodes, so two thirds of the writes are
# forwarded to the shard leader.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-/tmp/accord-region-bench}
duration=${DURATION:-20s}
clients=${CLIENTS:-32}
hosts=${ACCORD_CASSANDRA_HOSTS:-127.0.0.1}
dc=${ACCORD_CASSANDRA_DC:-dc1}
rm -rf "$out"
mkdir -p "$out"
cd "$root"
go build -o "$out/accord" ./cmd/accord
go build -o "$out/accord-bench" ./cmd/accord-bench
export ACCORD_BIN="$out/accord"
tag=$(date +%s)

bench() { # label urls guilds channels
	echo "== $1"
	"$out/accord-bench" rest --url "$2" --clients "$clients" --duration "$duration" --warmup 3s \
		--guilds "$3" --channels "$4" --verify 500 | sed 's/^/   /'
}

single() { # label store-flags...
	local label=$1
	shift
	"$out/accord" edge --node-id 1 --listen 127.0.0.1:9300 --raft-addr 127.0.0.1:9400 --data "$out/$label" \
		--rate-limits off --log-level warn "$@" >"$out/$label.log" 2>&1 &
	local pid=$!
	for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:9300/healthz >/dev/null 2>&1 && break; sleep 0.1; done
	bench "$label, one shard" http://127.0.0.1:9300 1 8
	bench "$label, all shards" http://127.0.0.1:9300 64 64
	kill -TERM "$pid"
	wait "$pid" || true
}

echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); commit $(git rev-parse --short HEAD); $(date -u +%FT%TZ)"
single "single node, Cassandra" --store cassandra --cassandra-hosts "$hosts" --cassandra-dc "$dc" --cassandra-keyspace "bench_single_$tag"
deploy/local/region.sh start --nodes 3 --base-port 9500 --data "$out/region" --keyspace "bench_region_$tag" -- --rate-limits off --log-level warn >/dev/null
urls=http://127.0.0.1:9500,http://127.0.0.1:9501,http://127.0.0.1:9502
bench "3-node region, Cassandra, one shard" "$urls" 1 8
bench "3-node region, Cassandra, all shards" "$urls" 64 64
deploy/local/region.sh stop --data "$out/region"
single "single node, embedded (the default)" --store embedded
