#!/usr/bin/env bash
# region.sh: a region of edge nodes on 127.0.0.1, for demos and tests.
#
#   deploy/local/region.sh start --nodes 3 --base-port 9100 --data DIR [-- EXTRA ACCORD FLAGS]
#   deploy/local/region.sh stop  --data DIR
#   deploy/local/region.sh status --data DIR
#
# Node i (1-based) serves REST and the gateway on 127.0.0.1:(P+i-1) and
# its internal listener (Raft, admin, forwarded writes; mutual TLS) on
# 127.0.0.1:(P+100+i-1), keeps its data in DIR/node<i>, logs to
# DIR/node<i>.log and writes its PID to DIR/node<i>.pid. Node 1 starts
# the region; the others join it. start is idempotent: nodes already
# running are left alone, stopped ones are started again (with their
# data, so they catch up), and a larger --nodes adds nodes.
#
# The nodes share the core's store, Cassandra: ACCORD_CASSANDRA_HOSTS
# (default 127.0.0.1), ACCORD_CASSANDRA_DC (dc1), --keyspace (accord_region).
# deploy/cassandra/cassandra.sh start runs one. The accord binary is
# $ACCORD_BIN, or built into DIR/accord. Each node gets
# $ACCORD_START_TIMEOUT seconds (default 300) to answer /healthz; the
# first start of a region creates the schema, which takes longer on a busy
# machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
nodes=3 base=9100 data="" keyspace=accord_region
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--nodes) nodes=$2; shift 2 ;;
	--base-port) base=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--keyspace) keyspace=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "region.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$cmd" ] || [ -z "$data" ]; then
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
mkdir -p "$data"
data=$(cd "$data" && pwd)

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

probe() { # port: is the node serving?
	if command -v curl >/dev/null 2>&1; then
		curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

wait_healthy() { # port pidfile
	for _ in $(seq 1 $((${ACCORD_START_TIMEOUT:-300} * 10))); do
		if probe "$1"; then return 0; fi
		if ! alive "$2"; then return 1; fi
		sleep 0.1
	done
	return 1
}

case "$cmd" in
start)
	bin=${ACCORD_BIN:-}
	if [ -z "$bin" ]; then
		bin="$data/accord"
		(cd "$root" && go build -o "$bin" ./cmd/accord)
	fi
	names=()
	for i in $(seq 1 "$nodes"); do names+=("node-$i"); done
	"$bin" certs --dir "$data/tls" "${names[@]}" >/dev/null
	# One key signs attachment URLs for the whole region: a URL handed
	# out by one node must work on every other.
	if [ ! -s "$data/attachment.key" ]; then
		(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$data/attachment.key")
	fi
	akey=$(cat "$data/attachment.key")
	for i in $(seq 1 "$nodes"); do
		pidf="$data/node$i.pid"
		if alive "$pidf"; then continue; fi
		http=$((base + i - 1))
		raft=$((base + 100 + i - 1))
		join=()
		if [ "$i" -gt 1 ]; then
			peers=""
			for j in $(seq 1 "$nodes"); do
				[ "$j" -eq "$i" ] && continue
				peers="$peers${peers:+,}127.0.0.1:$((base + 100 + j - 1))"
			done
			join=(--join "$peers")
		fi
		ACCORD_ATTACHMENT_KEY=$akey "$bin" edge --region local --node-id "$i" \
			--listen "127.0.0.1:$http" --raft-addr "127.0.0.1:$raft" "${join[@]}" \
			--data "$data/node$i" \
			--tls-ca "$data/tls/ca.pem" --tls-cert "$data/tls/node-$i.pem" --tls-key "$data/tls/node-$i-key.pem" \
			--store cassandra --cassandra-hosts "${ACCORD_CASSANDRA_HOSTS:-127.0.0.1}" \
			--cassandra-dc "${ACCORD_CASSANDRA_DC:-dc1}" --cassandra-keyspace "$keyspace" \
			${extra[@]+"${extra[@]}"} >>"$data/node$i.log" 2>&1 &
		echo $! >"$pidf"
		# The first node must be up before the others can join it.
		if [ "$i" -eq 1 ] || [ "$nodes" -eq "$i" ]; then
			if ! wait_healthy "$http" "$pidf"; then
				echo "region.sh: node $i did not start; tail of $data/node$i.log:" >&2
				tail -n 30 "$data/node$i.log" >&2
				exit 1
			fi
		fi
	done
	for i in $(seq 1 "$nodes"); do
		if ! wait_healthy $((base + i - 1)) "$data/node$i.pid"; then
			echo "region.sh: node $i did not start; tail of $data/node$i.log:" >&2
			tail -n 30 "$data/node$i.log" >&2
			exit 1
		fi
		echo "node $i: http://127.0.0.1:$((base + i - 1)) raft 127.0.0.1:$((base + 100 + i - 1)) pid $(cat "$data/node$i.pid")"
	done
	;;
stop)
	for pidf in "$data"/node*.pid; do
		[ -e "$pidf" ] || continue
		if alive "$pidf"; then
			pid=$(cat "$pidf")
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$pidf"
	done
	;;
status)
	for pidf in "$data"/node*.pid; do
		[ -e "$pidf" ] || continue
		n=$(basename "$pidf" .pid)
		if alive "$pidf"; then echo "$n: running, pid $(cat "$pidf")"; else echo "$n: stopped"; fi
	done
	;;
*)
	echo "region.sh: unknown command $cmd (start, stop, status)" >&2
	exit 2
	;;
esac
