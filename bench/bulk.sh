#!/usr/bin/env bash
# Bulk import and export figures (see README "Benchmarks"). Usage:
#   bench/bulk.sh sqlite|postgres [IMPORT_LINES] [EXPORT_APPLICATIONS]
# Builds the release binary and starts gongkai on 127.0.0.1:18081 against a fresh database, then
#  1. times one POST /api/v1/import/requests of IMPORT_LINES (default 10000) generated NDJSON
#     lines (in person, 2025, half of them closed) into the root agency;
#  2. seeds EXPORT_APPLICATIONS (default 100000) applications of 2024 into one agency with
#     `gongkai seed`, restarts the server, and times GET /api/v1/export/requests?year=2024 with
#     the server's resident memory before the export (VmRSS) and its peak (VmHWM) after it.
# Needs curl and python3, and for postgres a server at 127.0.0.1:5432 with trust auth.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-postgres}
lines=${2:-10000}
apps=${3:-100000}
port=18081
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
export GONGKAI__LOG__LEVEL=warn
# BIN=path measures a binary built before (else a release build of this tree).
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/gongkai}
work=$(mktemp -d)
if [ "$backend" = postgres ]; then
  psql -w -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS gongkai_bulk_bench' -c 'CREATE DATABASE gongkai_bulk_bench'
  export GONGKAI__DATABASE__URL=postgres://postgres@127.0.0.1:5432/gongkai_bulk_bench
else
  export GONGKAI__DATABASE__URL=sqlite://$work/bench.db
fi
pid=
start() {
  $bin serve & pid=$!
  for _ in $(seq 1 100); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
  TOKEN=$(curl -s -X POST localhost:$port/api/v1/auth/token -H 'content-type: application/json' \
    -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }
mem() { grep -E "^$1:" /proc/"$pid"/status | awk '{printf "%.0f MiB", $2/1024}'; }
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

start
python3 - "$lines" > "$work/import.ndjson" <<'PY'
import datetime, json, sys
n = int(sys.argv[1])
start = datetime.date(2025, 1, 2)
for i in range(n):
    d = start + datetime.timedelta(days=i % 300)
    line = {
        "channel": "in_person",
        "arrived_at": f"{d}T09:30:00+08:00",
        "receipt_date": str(d),
        "applicant": {"kind": "natural_person", "name": "张三",
                      "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
                      "phone": "010-65123456"},
        "description": "申请公开2024年本机关行政许可决定清单",
        "external_reference": f"BULK-{i}",
    }
    if i % 2:
        line.update(disposition="granted", replied_on=str(d + datetime.timedelta(days=10)),
                    provision="以电子邮件方式提供")
    print(json.dumps(line, ensure_ascii=False))
PY
echo "== import of $lines lines, $(du -h "$work/import.ndjson" | cut -f1) ($backend)"
curl -s -o "$work/import.out" -w 'HTTP %{http_code} in %{time_total} s\n' \
  -X POST "localhost:$port/api/v1/import/requests" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/x-ndjson' --data-binary @"$work/import.ndjson"
grep -o '"imported":[0-9]*' "$work/import.out" || head -c 400 "$work/import.out"
echo "server peak memory after the import: $(mem VmHWM)"
echo "== the change feed after the import, read 1000 events a page"
python3 - "$port" "$TOKEN" <<'PY'
import json, sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
def get(after):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/feed?limit=1000&after={after}",
                                 headers={"authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
t0 = time.perf_counter()
page = get(0)
first = time.perf_counter() - t0
n, after = len(page["events"]), page["next_cursor"]
while page["events"]:
    page = get(after)
    n += len(page["events"])
    after = page["next_cursor"]
total = time.perf_counter() - t0
print(f"first page {first*1000:.0f} ms; {n} events read in {total:.2f} s ({n/total:.0f}/s)")
PY
stop

echo "== seeding $apps applications of 2024"
$bin seed --agencies 1 --requests "$apps" --years 2024-2024 >/dev/null
start
echo "server memory before the export: $(mem VmRSS) (peak so far $(mem VmHWM))"
curl -s -o "$work/export.ndjson" -w 'HTTP %{http_code} in %{time_total} s, %{size_download} bytes\n' \
  -H "authorization: Bearer $TOKEN" "localhost:$port/api/v1/export/requests?year=2024"
echo "lines exported: $(wc -l < "$work/export.ndjson")"
echo "server peak memory after the export: $(mem VmHWM)"
stop
