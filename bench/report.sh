#!/usr/bin/env bash
# Yearly-report benchmark (see README "Benchmarks"). Usage: bench/report.sh [SEED_REQUESTS] [YEAR]
# Seeds SEED_REQUESTS applications (default 1000000) into ONE agency of a fresh PostgreSQL
# database (127.0.0.1:5432, trust auth), then times GET /api/v1/agencies/{id}/reports/YEAR
# (default 2025) over HTTP, and one hand-written SQL query that counts the same cells of
# tables 三 and 四 and the fees, for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1000000}
year=${2:-2025}
port=18081
db=gongkai_report_bench
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
export GONGKAI__LOG__LEVEL=warn
export GONGKAI__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$db
cargo build --release -q
bin=target/release/gongkai
if [ "${REUSE:-0}" != 1 ]; then
  psql -w -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  $bin seed --agencies 1 --requests "$seed" --years 2021-2026
fi
agency=$(psql -w -h 127.0.0.1 -U postgres -d $db -tAc "SELECT id FROM agencies WHERE depth = 1 LIMIT 1")
$bin serve & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
token=$(curl -s -X POST localhost:$port/api/v1/auth/token -H 'content-type: application/json' \
  -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
url="http://127.0.0.1:$port/api/v1/agencies/$agency/reports/$year"
curl -sf -o /dev/null -H "authorization: Bearer $token" "$url"   # warm up
echo "== GET report $year over HTTP (10 runs)"
for i in $(seq 1 10); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $token" "$url"
done | sort -n | awk '{a[NR]=$1} END {printf "min %.3f s  median %.3f s  max %.3f s\n", a[1], a[int((NR+1)/2)], a[NR]}'
start="$year-01-01"; end="$year-12-31"
echo "== one hand-written SQL query for the same cells (10 runs)"
for i in $(seq 1 10); do
  psql -w -h 127.0.0.1 -U postgres -d $db -qAt -c '\timing on' -c "
    SELECT r.applicant_kind, r.disposition,
      SUM(CASE WHEN receipt_date BETWEEN '$start' AND '$end' THEN 1 ELSE 0 END),
      SUM(CASE WHEN receipt_date < '$start' AND (closed_on IS NULL OR closed_on >= '$start') THEN 1 ELSE 0 END),
      SUM(CASE WHEN closed_on BETWEEN '$start' AND '$end' THEN 1 ELSE 0 END),
      SUM(CASE WHEN receipt_date <= '$end' AND (closed_on IS NULL OR closed_on > '$end') THEN 1 ELSE 0 END)
    FROM requests r WHERE r.agency_id = '$agency' AND r.receipt_date IS NOT NULL AND r.receipt_date <= '$end'
    GROUP BY 1, 2
    UNION ALL
    SELECT kind, COALESCE(route, '') || ':' || CASE WHEN decided_on <= '$end' THEN outcome ELSE 'pending' END, COUNT(*), 0, 0, 0
    FROM remedy_cases WHERE agency_id = '$agency' AND COALESCE(received_on, filed_on) BETWEEN '$start' AND '$end' GROUP BY 1, 2" \
    | grep -E '^Time' | sed -E 's/Time: ([0-9.]+) ms.*/\1/'
done | sort -n | awk '{a[NR]=$1} END {printf "min %.1f ms  median %.1f ms  max %.1f ms\n", a[1], a[int((NR+1)/2)], a[NR]}'
