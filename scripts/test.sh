#!/usr/bin/env bash
# Runs every test of Accord. It installs what the tests need first, so it
# works on a fresh machine with Go 1.26 (the README's test command; CI runs
# it through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"

echo "== go mod download"
go mod download

echo "== bot libraries for tests/compat (discord.js, discord.py; discordgo comes with go mod download)"
# Needs Node.js (18+) with npm and Python 3 with venv; both are installed
# from their registries by package name, pinned by package-lock.json and
# requirements.txt. ACCORD_REQUIRE_COMPAT=1 turns a missing library into a
# test failure instead of a skip.
npm ci --prefix tests/compat/js --no-audit --no-fund --loglevel=error
venv=tests/compat/py/.venv
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/compat/py/requirements.txt
export ACCORD_REQUIRE_COMPAT=1

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== Apache Cassandra, two datacenters (dc1 on 127.0.0.1, dc2 on 127.0.0.2)"
# Fetched from Maven Central and started by the project's own script; the
# Cassandra tests fail (not skip) when it is not up.
deploy/cassandra/cassandra.sh start --two-dc
trap 'deploy/cassandra/cassandra.sh stop >/dev/null 2>&1 || true' EXIT
export ACCORD_CASSANDRA_HOSTS=127.0.0.1 ACCORD_CASSANDRA_DC=dc1 ACCORD_REQUIRE_CASSANDRA=1

echo "== go test (all packages, including the real-process, region and Cassandra tests)"
go test -count=1 -timeout 40m ./...

echo "== REST, gateway and bot tests again, on Cassandra (--store cassandra)"
ACCORD_TEST_STORE=cassandra go test -count=1 -timeout 30m ./edge/rest/ ./edge/gateway/ ./tests/compat/

echo "== go test -race (concurrency-heavy packages, embedded store)"
go test -count=1 -race -timeout 20m ./core/engine/... ./edge/ratelimit/... ./edge/gateway/... \
  ./core/shard/... ./raftstore/... ./core/snowflake/... ./core/store/pebblestore/... ./turn/... \
  ./edge/sfu/... ./edge/voice/... ./tests/voice/

echo "== fuzz smoke (each target, a bounded number of inputs)"
# Count-bounded rather than time-bounded: Go 1.26's -fuzztime with a
# duration can report a spurious "context deadline exceeded".
fuzz() { # package target
  go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZ_INPUTS:-3000}x" "$1"
}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "-- $pkg $target"
    fuzz "$pkg" "$target"
  done
done

echo "== all tests passed"
