#!/usr/bin/env bash
# List latency over a large history (issue 15). Usage:
#   bench/lists.sh [REQUESTS]            (default 1000000)
# Builds the release binary, seeds the database with REQUESTS applications unless it already
# holds that many, starts gongkai on 127.0.0.1:$PORT, and for each documented filter and sort
# measures p50/p99 of GET /api/v1/requests at 1 and 8 clients (wrk; apt-get install -y wrk), by
# page 1 and by a deep cursor. Beside them, the ceiling measured in the same run: the same
# binary's /healthz, and the list's own SQL (the page's ids by the sort's index, their rows
# with documents, and the total as the service takes it) run by the database's own client at
# the same number of clients. Ends with the plans of q searches.
#   DATABASE=postgres (default): the PostgreSQL database $DB (default gongkai_lists) at
#     127.0.0.1:5432, trust auth; the SQL through pgbench -f, with the planner's estimate and
#     the capped count when the service takes it.
#   DATABASE=sqlite: the file $SQLITE_PATH (default /tmp/gongkai-lists/lists.db); the SQL
#     through the sqlite3 shell (apt-get install -y sqlite3), one shell per client, each running
#     it $SQL_RUNS times (default 40) with .timer on.
# DURATION (default 5s) is the length of each measurement; BIN=path measures a binary built
# before (A/B runs in one session); ONLY=regex measures only the cases whose label matches
# (ONLY='^q=' the searches).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
database=${DATABASE:-postgres}
db=${DB:-gongkai_lists}
port=${PORT:-18081}
dur=${DURATION:-5s}
sql_runs=${SQL_RUNS:-40}
case $database in
  postgres) url=postgres://postgres@127.0.0.1:5432/$db ;;
  sqlite)
    sqlite_path=${SQLITE_PATH:-/tmp/gongkai-lists/lists.db}
    mkdir -p "$(dirname "$sqlite_path")"
    url=sqlite://$sqlite_path ;;
  *) echo "DATABASE is postgres or sqlite" >&2; exit 2 ;;
esac
export GONGKAI__DATABASE__URL=$url
export GONGKAI__BOOTSTRAP__ADMIN_PASSWORD=bench-admin-password
export GONGKAI__SERVER__BIND=127.0.0.1:$port
# Pooled connections: 16 on PostgreSQL (half of wrk's 32); on SQLite the service's default
# (config/default.toml), since each SQLite connection keeps its own page cache and schema in
# the server's memory and one file's readers share the machine's cores. POOL=n sets either.
if [ -n "${POOL:-}" ]; then export GONGKAI__DATABASE__POOL_MAX_SIZE=$POOL
elif [ "$database" = postgres ]; then export GONGKAI__DATABASE__POOL_MAX_SIZE=16; fi
export GONGKAI__LOG__LEVEL=warn
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/gongkai}
psql_() { psql -w -h 127.0.0.1 -U postgres -qtA "$@"; }
sql_() { # one value from the benchmark's database
  if [ "$database" = sqlite ]; then sqlite3 "$sqlite_path" "$1"; else psql_ -d "$db" -c "$1"; fi
}
have=$(sql_ 'SELECT count(*) FROM requests' 2>/dev/null || echo 0)
if [ "${have:-0}" -lt "$n" ]; then
  echo "== seeding $n applications into $url"
  if [ "$database" = sqlite ]; then
    rm -f "$sqlite_path" "$sqlite_path-wal" "$sqlite_path-shm"
  else
    psql_ -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  fi
  /usr/bin/time -f "   seed: %e s, peak RSS %M KiB" $bin seed --agencies 20 --requests "$n" --years 2021-2026
fi
$bin serve & pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
tmp=$(mktemp -d)
for _ in $(seq 1 100); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
# Rows stored before the search column existed are filled after start: wait for them.
while [ "$(sql_ 'SELECT count(*) FROM requests WHERE search_text IS NULL')" != 0 ]; do
  echo "   (filling search grams: $(sql_ 'SELECT count(*) FROM requests WHERE search_text IS NULL') left)"
  sleep 5
done
login() { # a fresh access token: a run over a million outlasts one token's 15 minutes
  TOKEN=$(curl -s -X POST "localhost:$port/api/v1/auth/token" -H 'content-type: application/json' \
    -d '{"grant_type":"password","username":"admin","password":"bench-admin-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  export TOKEN
}
login
agency=$(sql_ "SELECT agency_id FROM requests GROUP BY agency_id ORDER BY count(*) DESC LIMIT 1")
case_number=$(sql_ "SELECT case_number FROM requests ORDER BY created_at LIMIT 1 OFFSET 500000")
case_part=${case_number: -6}
today=$(curl -s "localhost:$port/api/v1/dashboard" -H "authorization: Bearer $TOKEN" | sed -E 's/.*"today":"([^"]+)".*/\1/')
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
grams_of() { # the query's grams as db::search::query_grams makes them, space-separated
  python3 -c 'import sys,re; r=re.findall(r"\w+", sys.argv[1].lower()); print(" ".join(sorted({x for x in r if len(x) == 1} | {x[i:i+2] for x in r for i in range(len(x)-1)})))' "$1"
}
fts_query() { # the FTS5 query of a text's grams (db::search::fts5_query)
  printf "{grams} : (%s)" "$(printf '%s\n' $(grams_of "$1") | sed 's/.*/"&"/' | paste -sd'\t' | sed 's/\t/ AND /g')"
}
held() { # the gram index's condition for a query (db::requests::search)
  local g; g=$(grams_of "$1")
  if [ "$database" = sqlite ]; then
    printf "(requests.id IN (SELECT request_id FROM request_search WHERE request_search MATCH '%s'))" "$(fts_query "$1")"
  else
    printf "(string_to_array(requests.search_text, ' ') @> string_to_array('%s', ' '))" "$g"
  fi
}
like() { echo "(requests.case_number LIKE '%$1%' OR requests.applicant_name LIKE '%$1%' OR requests.description LIKE '%$1%')"; }
exact_grams() { # one or two ideographs or digits (db::search::grams_are_exact)
  python3 -c 'import re, sys; sys.exit(0 if re.fullmatch(r"[0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f\U00030000-\U000323af]{1,2}", sys.argv[1]) else 1)' "$1"
}
q_where() { # the service's condition for q, walking the sort's index: one or two ideographs
  # or digits are their gram alone (the columns rechecked only for rows without grams); longer
  # ones recheck every candidate
  if exact_grams "$1"; then
    echo "($(held "$1") OR (requests.search_text IS NULL AND $(like "$1")))"
  else
    echo "($(held "$1") OR requests.search_text IS NULL) AND $(like "$1")"
  fi
}
fts_few() { # SQLite: the page reads the matches when they are at most 5,000 (FEW_SEARCH_MATCHES)
  [ "$(sql_ "SELECT count(*) FROM (SELECT 1 FROM request_search WHERE request_search MATCH '$(fts_query "$1")' LIMIT 5001)")" -le 5000 ]
}
q_page() { # the page's condition for q as the service writes it on this database: SQLite reads
  # the matches it listed first (db::requests::SearchDrive::Matches, here a temporary table
  # where the service binds their ids), rechecked unless the grams are exact, or walks the sort's
  # index checking each row's columns; PostgreSQL asks its gram index
  if [ "$database" = sqlite ] && fts_few "$1"; then
    if exact_grams "$1"; then echo "requests.id IN (SELECT id FROM temp.matches)"
    else echo "requests.id IN (SELECT id FROM temp.matches) AND $(like "$1")"; fi
  elif [ "$database" = sqlite ]; then
    like "$1"
  else
    q_where "$1"
  fi
}
q_count() { # the count of q: SQLite counts the listed matches, or (walked) streams the FTS5
  # matches joined to the rows by id (db::requests::search_total), a whole statement
  if [ "$database" = sqlite ] && ! fts_few "$1"; then
    local check=""
    if ! exact_grams "$1"; then check=" AND $(like "$1")"; fi
    echo "SELECT (SELECT count(*) FROM (SELECT 1 FROM request_search CROSS JOIN (SELECT requests.id FROM requests WHERE TRUE$check) AS f ON f.id = request_search.request_id WHERE request_search MATCH '$(fts_query "$1")' LIMIT 10001)) + (SELECT count(*) FROM (SELECT requests.id FROM requests WHERE requests.search_text IS NULL AND $(like "$1") LIMIT 10001))"
  else
    q_page "$1"
  fi
}
q_and() { # the page's condition for q beside another filter: SQLite checks the columns of each
  # row, walking the sort's index with the filter's terms out of index selection (`+`), or
  # (third argument `few`: the filter holds at most 20,000 rows, db::requests::SearchDrive::Filtered) reading
  # the filter's rows by its index; PostgreSQL plans the two together
  if [ "$database" = sqlite ] && [ "${3:-}" = few ]; then
    echo "$(like "$1") AND requests.$2"
  elif [ "$database" = sqlite ]; then
    echo "$(like "$1") AND +requests.$2"
  else
    echo "$(q_where "$1") AND requests.$2"
  fi
}
q_and_count() { # its count: SQLite reads the filter's rows checking their columns when they are
  # few (rows), estimates when they are many but fewer than the FTS5 matches (estimate), else
  # streams the matches joined by id to the filter's rows, the rows awaiting their grams beside
  # them by their partial index
  if [ "$database" = sqlite ] && [ "${3:-}" = estimate ]; then
    # the filter's rows many and fewer than the matches: estimated from the two counts that
    # chose the drive and the table's size (db::requests::independent_estimate)
    echo "SELECT max(rowid) FROM requests"
  elif [ "$database" = sqlite ] && [ "${3:-}" = rows ]; then
    echo "$(like "$1") AND requests.$2"
  elif [ "$database" = sqlite ]; then
    local check=""
    if ! exact_grams "$1"; then check=" AND $(like "$1")"; fi
    echo "SELECT (SELECT count(*) FROM (SELECT 1 FROM request_search CROSS JOIN (SELECT requests.id FROM requests WHERE requests.$2$check) AS f ON f.id = request_search.request_id WHERE request_search MATCH '$(fts_query "$1")' LIMIT 10001)) + (SELECT count(*) FROM (SELECT 1 FROM requests AS w CROSS JOIN (SELECT requests.id FROM requests WHERE requests.$2 AND $(like "$1")) AS a ON a.id = w.id WHERE w.search_text IS NULL LIMIT 10001))"
  else
    q_and "$1" "$2"
  fi
}
q_pre_drive() { # SQLite: the two counts that choose the drive of a search of many matches beside a
  # filter (db::requests::many_matches)
  if [ "$database" = sqlite ]; then
    echo "SELECT count(*) FROM request_search WHERE request_search MATCH '$(fts_query "$1")'; SELECT count(*) FROM (SELECT requests.id FROM requests WHERE requests.$2 LIMIT $3);"
  fi
}
q_pre() { # what the service runs before a search on SQLite: the list of its FTS5 matches (up to
  # 5,001) and of the rows awaiting their grams that hold the text
  if [ "$database" = sqlite ]; then
    echo "DROP TABLE IF EXISTS temp.matches; CREATE TEMP TABLE matches AS SELECT requests.id AS id FROM requests WHERE requests.id IN (SELECT request_id FROM request_search WHERE request_search MATCH '$(fts_query "$1")' LIMIT 5001); INSERT INTO temp.matches SELECT id FROM requests WHERE search_text IS NULL AND $(like "$1") LIMIT 5001;"
  fi
}

# `late=true` as the service binds it: SQLite proves the partial index requests_late from
# `late = 1` only by the same expression, PostgreSQL simplifies `late = true` to `late`.
late_sql=late
if [ "$database" = sqlite ]; then late_sql="late = 1"; fi
# SQLite's page offers a filter's index only where it gives the sort's order (db::requests::
# filtered): `+channel` in a page sorted other than by receipt.
plus=""
if [ "$database" = sqlite ]; then plus="+"; fi
# label | query string | SQL filter (for pgbench) | SQL order of the sort's index
#   [| the count's filter, when it differs | a statement the service runs first]
cases=$(cat <<EOF
unfiltered, -created|sort=-created|TRUE|created_at DESC, id DESC
sort received|sort=received|receipt_date IS NOT NULL|receipt_date, id
sort -due|sort=-due|due_date IS NOT NULL|due_date DESC, id DESC
sort case_number|sort=case_number|TRUE|case_number, id
sort -case_number|sort=-case_number|TRUE|case_number DESC, id DESC
state=processing, sort due|state=processing&sort=due|state = 'processing' AND due_date IS NOT NULL|due_date, id
state=2 states, -created|state=consulting,awaiting_payment|state IN ('consulting','awaiting_payment')|created_at DESC, id DESC
channel=letter|channel=letter|${plus}channel = 'letter'|created_at DESC, id DESC|channel = 'letter'
applicant_kind=research_institution|applicant_kind=research_institution|applicant_kind = 'research_institution'|created_at DESC, id DESC
receipt range + channel, -received|received_from=2025-01-01&received_to=2025-03-31&channel=letter&sort=-received|receipt_date BETWEEN '2025-01-01' AND '2025-03-31' AND channel = 'letter' AND receipt_date IS NOT NULL|receipt_date DESC, id DESC
due_before, sort due|due_before=2023-01-01&sort=due|due_date < '2023-01-01' AND due_date IS NOT NULL|due_date, id
overdue=true|overdue=true|state <> 'closed' AND due_date < '$today'|created_at DESC, id DESC
late=true|late=true|$late_sql|created_at DESC, id DESC
disposition + late|disposition=granted&late=true|disposition = 'granted' AND $late_sql|created_at DESC, id DESC
external_reference|external_reference=NONE-1|external_reference = 'NONE-1'|created_at DESC, id DESC
agency_id, -created|agency_id=$agency|agency_id = '$agency'|created_at DESC, id DESC
agency_id, sort due|agency_id=$agency&sort=due|agency_id = '$agency' AND due_date IS NOT NULL|due_date, id
q=张伟 (2 chars)|q=$(enc 张伟)|$(q_page 张伟)|created_at DESC, id DESC|$(q_count 张伟)|$(q_pre 张伟)
q=娜 (1 char)|q=$(enc 娜)|$(q_page 娜)|created_at DESC, id DESC|$(q_count 娜)|$(q_pre 娜)
q=case number part|q=$(enc "$case_part")|$(q_page "$case_part")|created_at DESC, id DESC|$(q_count "$case_part")|$(q_pre "$case_part")
q=张伟 + state=closed|q=$(enc 张伟)&state=closed|$(q_and 张伟 "state = 'closed'")|created_at DESC, id DESC|$(q_and_count 张伟 "state = 'closed'")|$(q_pre_drive 张伟 "state = 'closed'" 20001)
q=娜 + state=processing|q=$(enc 娜)&state=processing|$(q_and 娜 "state = 'processing'" few)|created_at DESC, id DESC|$(q_and_count 娜 "state = 'processing'" rows)|$(q_pre_drive 娜 "state = 'processing'" 87603)
q=娜 + agency_id|q=$(enc 娜)&agency_id=$agency|$(like 娜) AND requests.agency_id = '$agency'|created_at DESC, id DESC|$(q_and_count 娜 "agency_id = '$agency'" estimate)|$(q_pre_drive 娜 "agency_id = '$agency'" 87603)
EOF
)

wrk_p() { # clients url -> "p50 p99 rps"; "non-2xx - -" when any answer was not a success
  wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"$dur" --latency -s bench/get.lua "$2" |
    awk '/ 50%/{p50=$2} / 99%/{p99=$2} /Requests\/sec/{rps=$2} /Non-2xx/{bad=1}
      END{if (bad) print "non-2xx - -"; else printf "%s %s %s", p50, p99, rps}'
}
pgb_p() { # clients sqlfile -> "p50 p99 tps" from per-transaction log
  rm -f "$tmp"/pgbench_log.*
  (cd "$tmp" && pgbench -n -h 127.0.0.1 -U postgres -c"$1" -j"$(( $1 < 2 ? 1 : 2 ))" -T"${dur%s}" -l -f "$2" "$db" >"$tmp/pgb.out" 2>&1) || true
  cat "$tmp"/pgbench_log.* 2>/dev/null | awk '{print $3}' | sort -n |
    awk -v tps="$(awk '/^tps/{print $3; exit}' "$tmp/pgb.out")" '{a[NR]=$1} END{if(NR==0){print "- - -"; exit} printf "%.2fms %.2fms %s", a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000, tps}'
}
sq_p() { # clients sqlfile -> "p50 p99 qps": $sql_runs runs of the file in each of the clients' sqlite3 shells
  local start end i
  start=$(date +%s.%N)
  for i in $(seq 1 "$1"); do
    { echo .timer on; for _ in $(seq 1 "$sql_runs"); do cat "$2"; echo "SELECT 'END';"; done; } |
      sqlite3 -readonly "$sqlite_path" >"$tmp/sq.$i" 2>&1 &
  done
  wait
  end=$(date +%s.%N)
  cat "$tmp"/sq.* | awk '/^Run Time: real/{t+=$4} /^END$/{print t*1000; t=0}' | sort -n |
    awk -v s="$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" '{a[NR]=$1} END{if(NR==0){print "- - -"; exit} printf "%.2fms %.2fms %.1f", a[int(NR*0.5)+1], a[int(NR*0.99)+1], NR/s}'
  rm -f "$tmp"/sq.*
}
ms() { # wrk latency ("1.23ms", "456.00us", "1.02s") -> ms
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'
}

sql_column="SQL (pgbench) p50/p99"
if [ "$database" = sqlite ]; then sql_column="SQL (sqlite3) p50/p99"; fi
printf '%-58s %-8s %-22s %-22s %-22s %s\n' "case" "clients" "HTTP p50/p99 req/s" "deep cursor p50/p99" "$sql_column" "HTTP/SQL p50"
for c in 1 8; do
  read -r h50 h99 hr <<<"$(wrk_p "$c" "http://127.0.0.1:$port/healthz")"
  printf '%-58s %-8s %-22s\n' "/healthz (ceiling)" "$c" "$h50/$h99 $hr"
done
while IFS='|' read -r label query where order count_where pre; do
  [ -n "$label" ] || continue
  # ONLY=regex measures the cases whose label matches (A/B runs of a few).
  if [ -n "${ONLY:-}" ] && ! [[ $label =~ $ONLY ]]; then continue; fi
  login
  count_where=${count_where:-$where}
  printf '%s\n' "$pre" >"$tmp/list.sql"
  cat >>"$tmp/list.sql" <<SQL
SELECT r.*, d.details, d.workflow FROM requests r JOIN request_documents d ON d.request_id = r.id
 WHERE r.id IN (SELECT id FROM requests WHERE $where ORDER BY $order LIMIT 51);
SQL
  if [ "$database" = sqlite ]; then
    # SQLite has no planner estimate: the service counts up to 10,001 matches (db::requests::
    # count_total), so the ceiling does too.
    if [[ $count_where == SELECT* ]]; then
      echo "$count_where;" >>"$tmp/list.sql"
    else
      echo "SELECT count(*) FROM (SELECT 1 FROM requests WHERE $count_where LIMIT 10001);" >>"$tmp/list.sql"
    fi
  else
    # The default total as the service takes it: the planner's estimate first, and the capped
    # count only when that estimate is at most 20,000 (db::requests::SURELY_LARGE_ESTIMATE),
    # or 2,000 for a search (SURELY_LARGE_SEARCH).
    surely_large=20000
    if [[ $label == q=* ]]; then surely_large=2000; fi
    estimate=$(psql_ -d "$db" -c "EXPLAIN (FORMAT JSON) SELECT id FROM requests WHERE $where" |
      python3 -c 'import json, sys; print(round(json.load(sys.stdin)[0]["Plan"]["Plan Rows"]))')
    echo "EXPLAIN (FORMAT JSON) SELECT id FROM requests WHERE $where;" >>"$tmp/list.sql"
    if [ "$estimate" -le "$surely_large" ]; then
      echo "SELECT count(*) FROM (SELECT 1 FROM requests WHERE $where LIMIT 10001) AS capped;" >>"$tmp/list.sql"
      label="$label (est. $estimate, counted)"
    else
      label="$label (est. $estimate)"
    fi
  fi
  # A cursor from deep in the list: the last row of page 2,000 of 50 (row 100,000).
  cursor=$(curl -s "http://127.0.0.1:$port/api/v1/requests?$query&page=2000&per_page=50&total=none" \
    -H "authorization: Bearer $TOKEN" | sed -nE 's/.*"next_cursor":"([^"]+)".*/\1/p')
  for c in 1 8; do
    read -r p50 p99 rps <<<"$(wrk_p "$c" "http://127.0.0.1:$port/api/v1/requests?$query")"
    deep="-"
    if [ -n "$cursor" ]; then
      read -r d50 d99 _ <<<"$(wrk_p "$c" "http://127.0.0.1:$port/api/v1/requests?$query&total=none&cursor=$cursor")"
      deep="$d50/$d99"
    fi
    if [ "$database" = sqlite ]; then
      read -r s50 s99 tps <<<"$(sq_p "$c" "$tmp/list.sql")"
    else
      read -r s50 s99 tps <<<"$(pgb_p "$c" "$tmp/list.sql")"
    fi
    ratio=$(awk -v h="$(ms "$p50")" -v s="${s50%ms}" 'BEGIN{ if (s > 0 && h > 0) printf "%.1fx", h/s; else print "-" }')
    printf '%-58s %-8s %-22s %-22s %-22s %s\n' "$label" "$c" "$p50/$p99 $rps" "$deep" "$s50/$s99 $tps" "$ratio"
  done
done <<<"$cases"

echo
for q in 张伟 娜 "$case_part"; do
  page="SELECT requests.id FROM requests WHERE $(q_page "$q") ORDER BY requests.created_at DESC, requests.id DESC LIMIT 51"
  if [ "$database" = sqlite ]; then
    echo "== EXPLAIN QUERY PLAN of the first page's ids for q=$q (the service's query)"
    sqlite3 -readonly "$sqlite_path" "$(q_pre "$q") EXPLAIN QUERY PLAN $page"
    if ! fts_few "$q"; then
      echo "== EXPLAIN QUERY PLAN of its count (walked: the FTS5 matches joined by id)"
      sqlite3 -readonly "$sqlite_path" "EXPLAIN QUERY PLAN $(q_count "$q")"
    fi
  else
    echo "== EXPLAIN (ANALYZE, BUFFERS) of the first page's ids for q=$q (the service's query)"
    psql -w -h 127.0.0.1 -U postgres -d "$db" -c "EXPLAIN (ANALYZE, BUFFERS) $page"
  fi
done
echo
rss() { awk -v k="$1" '$1 == k":" {printf "%.1f", $2 / 1024}' /proc/$pid/status; }
echo "server RSS after the run: $(rss VmRSS) MiB (anonymous $(rss RssAnon), the binary's and libraries' pages $(rss RssFile)) (target ≤ 64 MB)"
# The allocator gives freed memory back about a second after a burst: what stays resident.
sleep 3
echo "server RSS 3 s later: $(rss VmRSS) MiB (anonymous $(rss RssAnon))"
