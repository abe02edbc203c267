#!/usr/bin/env bash
# A province's roll-up (issue 15 item 4). Usage: bench/rollup.sh [SEED_REQUESTS] [YEAR]
# Seeds SEED_REQUESTS applications (default 1000000) over 20 agencies below the root of a
# fresh PostgreSQL database (127.0.0.1:5432, trust auth) with `gongkai seed` (which analyses
# at its end), then times GET /api/v1/agencies/{root}/reports/YEAR/rollup over HTTP — the first
# request right after the load, then 10 more — against its ceiling in the same run: one
# hand-written aggregate query counting table 三's cells for the whole subtree. Prints the ratio.
# REUSE=1 DB=name reuses a database seeded the same way; BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1000000}
year=${2:-2025}
port=${PORT:-18082}
db=${DB:-gongkai_rollup_bench}
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
export GONGKAI__LOG__LEVEL=warn
export GONGKAI__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$db
# BIN=path uses a binary already built (else a release build of this tree).
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-target/release/gongkai}
if [ "${REUSE:-0}" != 1 ]; then
  psql -w -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  /usr/bin/time -f "seeded in %e s, peak RSS %M KB" $bin seed --agencies 20 --requests "$seed" --years 2021-2026
fi
root=$(psql -w -h 127.0.0.1 -U postgres -d $db -tAc "SELECT id FROM agencies WHERE depth = 0 LIMIT 1")
rows=$(psql -w -h 127.0.0.1 -U postgres -d $db -tAc "SELECT count(*) FROM requests")
agencies=$(psql -w -h 127.0.0.1 -U postgres -d $db -tAc "SELECT count(*) FROM agencies")
$bin serve & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
token=$(curl -s -X POST localhost:$port/api/v1/auth/token -H 'content-type: application/json' \
  -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
url="http://127.0.0.1:$port/api/v1/agencies/$root/reports/$year/rollup"
echo "== roll-up of the root over $agencies agencies and $rows applications, $year"
first=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "authorization: Bearer $token" "$url")
echo "first request after the load: HTTP ${first% *} in ${first#* } s"
median() { sort -n | awk '{a[NR]=$1} END {printf "%.4f", a[int((NR+1)/2)]}'; }
http=$(for i in $(seq 1 10); do
  curl -s -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $token" "$url"
done | median)
start="$year-01-01"; end="$year-12-31"
sql=$(for i in $(seq 1 10); do
  psql -w -h 127.0.0.1 -U postgres -d $db -qAt -c '\timing on' -c "
    SELECT r.applicant_kind, r.disposition,
      SUM(CASE WHEN receipt_date BETWEEN '$start' AND '$end' THEN 1 ELSE 0 END),
      SUM(CASE WHEN receipt_date < '$start' AND (closed_on IS NULL OR closed_on >= '$start') THEN 1 ELSE 0 END),
      SUM(CASE WHEN closed_on BETWEEN '$start' AND '$end' THEN 1 ELSE 0 END),
      SUM(CASE WHEN receipt_date <= '$end' AND (closed_on IS NULL OR closed_on > '$end') THEN 1 ELSE 0 END)
    FROM requests r WHERE r.receipt_date IS NOT NULL AND r.receipt_date <= '$end'
    GROUP BY 1, 2" | grep -E '^Time' | sed -E 's/Time: ([0-9.]+) ms.*/\1/' | awk '{print $1/1000}'
done | median)
printf '%-40s %10s s\n' "roll-up over HTTP, median of 10" "$http"
printf '%-40s %10s s\n' "hand-written aggregate, median of 10" "$sql"
awk -v a="$http" -v b="$sql" 'BEGIN { if (b > 0) printf "ratio: the roll-up takes %.1f x the hand-written aggregate\n", a / b }'
echo "server RSS: $(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$pid/status), peak $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$pid/status)"
