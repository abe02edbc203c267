#!/usr/bin/env bash
# Per-request cost against ceilings measured in the same run (issue 15). Usage:
#   bench/ratios.sh sqlite|postgres
# Builds the release binary, starts gongkai on a fresh database and measures, each beside its
# ceiling from this same run (shared machines are noisy: compare the ratios, not the numbers):
#   - the bare /healthz of the same binary (the framework's ceiling);
#   - reading one application (GET /api/v1/requests/{id}) at 32 connections, against /healthz
#     and (PostgreSQL) against pgbench running the statements a read sends (logged by the
#     service under gongkai::sql), as prepared statements on as many connections; with the
#     server's CPU time per request of both (from /proc), whose ratio other work on a shared
#     machine moves less than it moves the rates;
#   - intake for one agency at 32 connections (each application from another applicant, then
#     all from one), against pgbench running the same inserts (application, documents, first
#     event, feed event) without a case-number counter, and with one updated last and first,
#     and last behind the advisory lock the service queues on (PostgreSQL only; on SQLite
#     against /healthz);
# and prints the statements one read sends (Server-Timing).
# Needs wrk (apt-get install -y wrk) and, for postgres, a server at 127.0.0.1:5432 (trust auth)
# and pgbench. DURATION (default 10s) and CONNECTIONS (default 32) change the runs; BIN=path
# measures a binary built before (A/B in one session). PAIRS=n (default 3, PostgreSQL) then
# runs intake and its no-counter ceiling n more times, one right after the other, and prints
# each pair's ratio and their median: on a machine whose speed drifts from minute to minute, a
# figure and its ceiling taken a minute apart can differ by a third on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-postgres}
duration=${DURATION:-10s}
conns=${CONNECTIONS:-32}
port=${PORT:-18081}
secs=${duration%s}
pgclients=${PGCLIENTS:-$conns}
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
# Pooled connections: on PostgreSQL two per core, since the database runs on these same cores
# and answers the most with about that many backends at work (the read's statement under
# pgbench: 18,700/s on 4 connections, 10,300/s on 32, on 2 cores; the service's read 5,660/s
# with a pool of 4, 5,380/s with 8, 4,180/s with 16, in one run). The ceilings' pgbench runs
# keep wrk's 32 connections (the same offered load, so that their p99 compares); PGCLIENTS=n
# changes that. On SQLite the service's default (config/default.toml), since each SQLite
# connection keeps its own page cache and schema in the server's memory and one file's
# readers share the machine's cores. POOL=n sets either.
if [ -n "${POOL:-}" ]; then export GONGKAI__DATABASE__POOL_MAX_SIZE=$POOL
elif [ "$backend" = postgres ]; then export GONGKAI__DATABASE__POOL_MAX_SIZE=$((2 * $(nproc))); fi
export GONGKAI__LOG__LEVEL=warn
export GONGKAI__SERVER__SERVER_TIMING=true
# A pinned date (outside production only): the intake body's dates stay valid on any day.
export GONGKAI__CLOCK__TODAY=2026-03-16
# BIN=path measures that binary instead of building one (to compare two builds in one session).
if [ -n "${BIN:-}" ]; then bin=$BIN; else cargo build --release -q; bin=target/release/gongkai; fi
db=gongkai_ratios
if [ "$backend" = postgres ]; then
  psql -w -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  export GONGKAI__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$db
else
  rm -rf /tmp/gongkai-ratios && mkdir -p /tmp/gongkai-ratios
  export GONGKAI__DATABASE__URL=sqlite:///tmp/gongkai-ratios/bench.db
fi
$bin serve & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf localhost:$port/healthz >/dev/null && break; sleep 0.2; done
export TOKEN=$(curl -s -X POST localhost:$port/api/v1/auth/token -H 'content-type: application/json' \
  -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# wrk's "99%  12.34ms" in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v}'; }
# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
# Runs wrk; sets RPS, P99 (ms) and CPU_US: the server's CPU time per request in µs (less
# sensitive than the rate to other work on a shared machine).
run_wrk() {
  local out c0 c1 n
  c0=$(cpu_ticks)
  out=$(wrk -t2 -c"$conns" -d"$duration" --latency "$@")
  c1=$(cpu_ticks)
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  CPU_US=$(awk -v t=$((c1 - c0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "n/a" }')
  RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  P99=$(echo "$out" | awk '$1 == "99%" {print $2}' | to_ms)
  local errors
  errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  [ -z "$errors" ] || echo "   (wrk saw $errors non-2xx answers)"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "n/a" }'; }
row() { printf '%-44s %12s %10s   %-34s %12s %10s   %s\n' "$@"; }

echo "== gongkai ratios ($backend, $conns connections, $duration each, $(nproc) cores, pool ${GONGKAI__DATABASE__POOL_MAX_SIZE:-default}, pgbench clients $pgclients)"
row "figure" "req/s" "p99 ms" "ceiling (same run)" "req/s" "p99 ms" "ratio"
run_wrk "http://127.0.0.1:$port/healthz"; H_RPS=$RPS; H_P99=$P99; H_CPU=$CPU_US

body='{"channel": "letter", "arrived_at": "2026-03-02T09:30:00+08:00", "signed_for_on": "2026-03-02",
 "applicant": {"kind": "natural_person", "name": "张三",
   "id_document": {"type": "resident_id_card", "number": "110101199003071233"},
   "phone": "13800000000", "address": "北京市东城区"},
 "description": "2025年度本局行政许可决定清单"}'
created=$(curl -s -D /tmp/gongkai-ratios.h -X POST localhost:$port/api/v1/requests \
  -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "$body")
id=$(echo "$created" | sed -E 's/.*"id":"([^"]+)".*/\1/')
stmts=$(curl -s -D - -o /dev/null localhost:$port/api/v1/requests/$id -H "authorization: Bearer $TOKEN" |
  tr -d '\r' | awk -F'"' 'tolower($0) ~ /^server-timing/ {print $2}')
run_wrk -s bench/get.lua "http://127.0.0.1:$port/api/v1/requests/$id"
R_RPS=$RPS; R_P99=$P99
row "read one application" "$RPS" "$P99" "GET /healthz" "$H_RPS" "$H_P99" "$(ratio "$RPS" "$H_RPS")"
echo "   server CPU per request: read $CPU_US µs, /healthz $H_CPU µs ($(ratio "$H_CPU" "$CPU_US") of the read's)"
echo "   one authenticated read sends: $stmts (a token this process has seen; its first use adds one)"
if [ "$backend" = postgres ]; then
  # The statements a read sends, as the service sends them: one read from a second process
  # of the same binary on the same database, logging each statement's SQL (gongkai::sql) in
  # its request's span (enabled with the access log's target).
  GONGKAI__SERVER__BIND=127.0.0.1:$((port + 1)) GONGKAI__LOG__FORMAT=json \
    GONGKAI__LOG__LEVEL=warn,gongkai::sql=trace,gongkai::http::middleware=info $bin serve 2>/tmp/gongkai-ratios-sql.log & pid2=$!
  for _ in $(seq 1 100); do curl -sf localhost:$((port + 1))/healthz >/dev/null && break; sleep 0.2; done
  # Twice: the second read is the steady one (the token's user is kept after the first).
  for _ in 1 2; do
    curl -sf -o /dev/null localhost:$((port + 1))/api/v1/requests/$id -H "authorization: Bearer $TOKEN"
    sleep 0.2
  done
  kill $pid2; wait $pid2 2>/dev/null || true
  # The caller's user for the token check, the application for the others.
  uid=$(psql -w -h 127.0.0.1 -U postgres -d $db -AtXc "SELECT id FROM users WHERE username = 'admin'")
  python3 -c '
import json, sys
reads = {}
for line in open(sys.argv[1]):
    try:
        entry = json.loads(line)
        sql = entry["fields"]["sql"]
    except (ValueError, KeyError):
        continue
    # Only what the reads sent: the lines of their request spans (background work has none).
    span = entry.get("span", {})
    if span.get("path", "").find("/api/v1/requests/") < 0:
        continue
    sql = sql.replace("$1", ":uid" if "FROM \"users\"" in sql else ":rid")
    reads.setdefault(span.get("request_id"), []).append(sql + ";")
# The last read: the steady one.
print("\n".join(list(reads.values())[-1]))
' /tmp/gongkai-ratios-sql.log > /tmp/gongkai-ratios-read.sql
  n=$(wc -l < /tmp/gongkai-ratios-read.sql)
  out=$(pgbench -n -M prepared -h 127.0.0.1 -U postgres -c "$pgclients" -j 2 -T "$secs" -r \
    -D uid="$uid" -D rid="$id" -f /tmp/gongkai-ratios-read.sql $db 2>&1) || { echo "$out"; exit 1; }
  RP_TPS=$(echo "$out" | awk '/^tps = / {print $3; exit}')
  RP_LAT=$(echo "$out" | awk '/^latency average/ {print $4; exit}')
  row "read one application" "$R_RPS" "$R_P99" "pgbench, the read's $n statements" "$RP_TPS" "avg $RP_LAT" "$(ratio "$R_RPS" "$RP_TPS")"
fi

# Intake, each application from another applicant (as a platform forwarding a day's
# applications sends them), then all from one applicant: each of those counts every earlier
# one of the last 30 days for the high-volume flag, so that run grows with its own length.
run_wrk -s bench/intake_applicants.lua "http://127.0.0.1:$port/api/v1/requests"
I_RPS=$RPS; I_P99=$P99
run_wrk -s bench/intake.lua "http://127.0.0.1:$port/api/v1/requests"
I1_RPS=$RPS; I1_P99=$P99
if [ "$backend" = postgres ]; then
  # The same inserts as one intake, copied from the application just made (so every column
  # is as the service writes it), numbered from a sequence instead of the counter row; then
  # the same with a counter row of their own updated last (as intake now takes its number)
  # and first (as it did before): what one gapless counter per agency costs at best.
  agency=$(psql -w -h 127.0.0.1 -U postgres -d $db -AtXc "SELECT agency_id FROM requests WHERE id = '$id'")
  psql -w -h 127.0.0.1 -U postgres -d $db -q <<SQL
CREATE SEQUENCE IF NOT EXISTS bench_ids;
DROP TABLE IF EXISTS bench_template;
CREATE TABLE bench_template AS SELECT '$id'::text AS id;
SQL
  inserts="INSERT INTO requests SELECT p.* FROM requests r, LATERAL jsonb_populate_record(r, jsonb_build_object('id', 'bench-' || nextval('bench_ids'), 'case_number', 'BENCH-' || currval('bench_ids'), 'case_seq', 100000000 + currval('bench_ids'))) p WHERE r.id = (SELECT id FROM bench_template);
INSERT INTO request_documents SELECT p.* FROM request_documents d, LATERAL jsonb_populate_record(d, jsonb_build_object('request_id', 'bench-' || currval('bench_ids'))) p WHERE d.request_id = (SELECT id FROM bench_template);
INSERT INTO request_events SELECT p.* FROM request_events e, LATERAL jsonb_populate_record(e, jsonb_build_object('id', 'bench-ev-' || currval('bench_ids'), 'request_id', 'bench-' || currval('bench_ids'))) p WHERE e.request_id = (SELECT id FROM bench_template) AND e.seq = 1;
INSERT INTO feed_events (id, occurred_at, agency_id, entity_type, entity_id, request_id, event_type, payload) SELECT 'bench-fe-' || currval('bench_ids'), occurred_at, agency_id, entity_type, 'bench-' || currval('bench_ids'), 'bench-' || currval('bench_ids'), event_type, payload FROM feed_events WHERE request_id = (SELECT id FROM bench_template) ORDER BY write_no LIMIT 1;"
  counter="INSERT INTO case_counters (agency_id, year, last_seq) VALUES ('$agency', 1, 1) ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1;"
  printf 'BEGIN;\n%s\nCOMMIT;\n' "$inserts" > /tmp/gongkai-ratios.sql
  printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$inserts" "$counter" > /tmp/gongkai-ratios-last.sql
  printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$counter" "$inserts" > /tmp/gongkai-ratios-first.sql
  # The counter as the service takes it: queued first on an advisory lock of the agency and
  # year (src/db/requests.rs: NEXT_CASE_SEQ_PG, CASE_NUMBER_LOCK_CLASS = 1734569583), then
  # the same upsert.
  queued="WITH queued AS (SELECT pg_advisory_xact_lock(1734569583, hashtext('$agency' || '/1'))) INSERT INTO case_counters (agency_id, year, last_seq) SELECT '$agency', 1, 1 FROM queued ON CONFLICT (agency_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1;"
  printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$inserts" "$queued" > /tmp/gongkai-ratios-queued.sql
  # Runs pgbench on one script; sets P_TPS and P_P99 (ms, from its per-transaction log).
  run_pgbench() {
    rm -rf /tmp/gongkai-pgbench && mkdir -p /tmp/gongkai-pgbench
    (cd /tmp/gongkai-pgbench && pgbench -n -h 127.0.0.1 -U postgres -c "$pgclients" -j 2 -T "$secs" \
      -f "$1" -l $db > pgbench.out 2>&1) || { cat /tmp/gongkai-pgbench/pgbench.out; exit 1; }
    P_TPS=$(awk '/^tps = / {print $3; exit}' /tmp/gongkai-pgbench/pgbench.out)
    P_P99=$(cat /tmp/gongkai-pgbench/pgbench_log.* | awk '{print $3}' | sort -n |
      awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2f", a[i]/1000}')
  }
  run_pgbench /tmp/gongkai-ratios.sql
  row "intake, one agency" "$I_RPS" "$I_P99" "pgbench, same inserts, no counter" "$P_TPS" "$P_P99" "$(ratio "$I_RPS" "$P_TPS")"
  awk -v a="$I_P99" -v b="$P_P99" 'BEGIN { if (b > 0) printf "   intake p99 is %.1f x pgbench p99\n", a / b }'
  row "intake, one agency, one applicant" "$I1_RPS" "$I1_P99" "pgbench, same inserts, no counter" "$P_TPS" "$P_P99" "$(ratio "$I1_RPS" "$P_TPS")"
  # Pairs: intake, then its ceiling at once; the median of the pairs' ratios.
  pairs=${PAIRS:-3}
  if [ "$pairs" -gt 0 ]; then
    rates=(); p99s=()
    for i in $(seq 1 "$pairs"); do
      run_wrk -s bench/intake_applicants.lua "http://127.0.0.1:$port/api/v1/requests"
      a_rps=$RPS; a_p99=$P99; a_cpu=$CPU_US
      run_pgbench /tmp/gongkai-ratios.sql
      rates+=("$(awk -v a="$a_rps" -v b="$P_TPS" 'BEGIN { printf "%.1f", 100 * a / b }')")
      p99s+=("$(awk -v a="$a_p99" -v b="$P_P99" 'BEGIN { printf "%.1f", a / b }')")
      printf '   pair %d: intake %s/s p99 %s ms (server CPU %s µs each), pgbench %s/s p99 %s ms: %s %%, p99 %s x\n' \
        "$i" "$a_rps" "$a_p99" "$a_cpu" "$P_TPS" "$P_P99" "${rates[-1]}" "${p99s[-1]}"
    done
    median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
    echo "   median of $pairs pairs: intake at $(median "${rates[@]}") % of pgbench's same inserts without a counter, p99 $(median "${p99s[@]}") x pgbench's"
  fi
  run_pgbench /tmp/gongkai-ratios-last.sql
  row "intake, one agency" "$I_RPS" "$I_P99" "pgbench, same + counter last" "$P_TPS" "$P_P99" "$(ratio "$I_RPS" "$P_TPS")"
  run_pgbench /tmp/gongkai-ratios-first.sql
  row "intake, one agency" "$I_RPS" "$I_P99" "pgbench, same + counter first" "$P_TPS" "$P_P99" "$(ratio "$I_RPS" "$P_TPS")"
  run_pgbench /tmp/gongkai-ratios-queued.sql
  row "intake, one agency" "$I_RPS" "$I_P99" "pgbench, same + queued counter last" "$P_TPS" "$P_P99" "$(ratio "$I_RPS" "$P_TPS")"
else
  row "intake, one agency" "$I_RPS" "$I_P99" "GET /healthz" "$H_RPS" "$H_P99" "$(ratio "$I_RPS" "$H_RPS")"
  row "intake, one agency, one applicant" "$I1_RPS" "$I1_P99" "GET /healthz" "$H_RPS" "$H_P99" "$(ratio "$I1_RPS" "$H_RPS")"
fi
echo "   server RSS after the runs: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$pid/status) (anonymous $(awk '/RssAnon/ {printf "%.1f MB", $2/1024}' /proc/$pid/status), the binary and libraries $(awk '/RssFile/ {printf "%.1f MB", $2/1024}' /proc/$pid/status))"
