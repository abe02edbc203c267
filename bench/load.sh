#!/usr/bin/env bash
# Repeatable load runs (see README "Benchmarks"). Usage:
#   bench/load.sh sqlite|postgres [SEED_REQUESTS]
#   STAGE=intake or STAGE=list runs one half; STAGE=list reuses the seeded database.
# Builds the release binary, starts gongkai on 127.0.0.1:18080 against a fresh database,
# measures intake at 32 concurrent clients (wrk, 20 s), then seeds SEED_REQUESTS applications
# (default 1000000) and measures list/filter latency. Needs wrk (apt-get install -y wrk) and,
# for postgres, a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-postgres}
seed=${2:-1000000}
duration=${DURATION:-20s}
port=18080
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
export GONGKAI__DATABASE__POOL_MAX_SIZE=${POOL:-16}
export GONGKAI__LOG__LEVEL=warn
stage=${STAGE:-all}
cargo build --release -q
bin=target/release/gongkai
if [ "$backend" = postgres ]; then
  [ "$stage" = list ] || psql -w -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS gongkai_bench' -c 'CREATE DATABASE gongkai_bench'
  export GONGKAI__DATABASE__URL=postgres://postgres@127.0.0.1:5432/gongkai_bench
else
  [ "$stage" = list ] || { rm -rf /tmp/gongkai-bench && mkdir -p /tmp/gongkai-bench; }
  export GONGKAI__DATABASE__URL=sqlite:///tmp/gongkai-bench/bench.db
fi
$bin serve & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
token() {
  curl -s -X POST localhost:$port/api/v1/auth/token -H 'content-type: application/json' \
    -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
export TOKEN=$(token)
if [ "$stage" != list ]; then
  echo "== intake, 32 connections, $duration ($backend)"
  wrk -t2 -c32 -d"$duration" --latency -s bench/intake.lua "http://127.0.0.1:$port/api/v1/requests"
  # The same, spread over 8 agencies: each agency's case-number counter is a lock held until
  # commit (gapless numbering), so one agency's intake rate is bounded by commit latency.
  ids=""
  for i in 1 2 3 4 5 6 7 8; do
    id=$(curl -s -X POST localhost:$port/api/v1/agencies -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
      -d "{\"code\":\"BENCH-$i-$RANDOM\",\"name\":\"bench $i\"}" | sed -E 's/.*"id":"([^"]+)".*/\1/')
    ids="$ids,$id"
  done
  echo "== intake over 8 agencies, 32 connections, $duration ($backend)"
  AGENCIES="${ids#,}" wrk -t2 -c32 -d"$duration" --latency -s bench/intake_spread.lua "http://127.0.0.1:$port/api/v1/requests"
fi
[ "$stage" = intake ] && exit 0
kill $pid; wait $pid 2>/dev/null || true
if [ "$stage" != list ]; then
  echo "== seeding $seed applications"
  $bin seed --agencies 20 --requests "$seed" --years 2021-2026
fi
$bin serve & pid=$!
for _ in $(seq 1 50); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
export TOKEN=$(token)
for q in "per_page=50" "state=processing&sort=due&per_page=50" "overdue=true&per_page=50" \
         "received_from=2025-01-01&received_to=2025-03-31&channel=letter&per_page=50" \
         "disposition=granted&late=true&per_page=50" "q=%E5%BC%A0%E4%BC%9F&per_page=50"; do
  echo "== GET /api/v1/requests?$q (1 connection, 5 s)"
  wrk -t1 -c1 -d5s --latency -s bench/get.lua "http://127.0.0.1:$port/api/v1/requests?$q" | grep -E " 50%| 99%"
  echo "== GET /api/v1/requests?$q (8 connections, 10 s)"
  wrk -t2 -c8 -d10s --latency -s bench/get.lua "http://127.0.0.1:$port/api/v1/requests?$q" | grep -E "Latency|99%|Requests/sec"
done
