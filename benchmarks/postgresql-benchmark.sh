#!/usr/bin/env bash
# C-STORE ingest on a PostgreSQL index (issue 20), side by side in one run on one throwaway PostgreSQL 15:
#   OrthancWeb on SQLite, OrthancWeb on PostgreSQL, Debian's orthanc on SQLite, orthanc with its PostgreSQL index plugin,
#   each with 1 storescu and with 2 concurrent storescu processes (half of the files each), every run on a fresh server,
#   fresh data folder and fresh database; and, in the 2-sender pass, two servers on one database and one storage folder:
#   "OrthancWeb, 2 servers, one PostgreSQL" (each its own config, data folder and ports, the same IndexConnectionString
#   and StorageDirectory, as OrthancWeb.Tests/Index/SeveralServersTests.cs does) and "orthanc, 2 servers, one
#   PostgreSQL" (the plugin's "Lock": false and a DatabaseServerIdentifier each, as the Orthanc Book's PostgreSQL and
#   scalability pages ask of several Orthancs on one database; one shared StorageDirectory), each server receiving one
#   storescu with half of the files, both sends started together; the rate is all files over the wall time from the
#   first send to the last acknowledgement. After a two-server run each server's /statistics CountInstances must equal
#   the files sent (a correctness line per run).
# Prints instances/s, MB/s, server and PostgreSQL CPU per instance (servers summed), and the database size after ingest
# (pg_database_size); then the statements that cost PostgreSQL most (pg_stat_statements).
#   apt-get install -y orthanc orthanc-postgresql postgresql dcmtk python3-pydicom python3-numpy curl jq
#   benchmarks/postgresql-benchmark.sh [folder-of-dicom-files]      (as root: PostgreSQL runs as the 'postgres' user)
# Default data: the 2000 files of ../shared/tools/gen_dataset.py's defaults (~1 GB), as the dicom-store benchmark uses,
# generated once into /tmp/orthancweb-bench-2000. Environment:
#   BENCH_WARMUP=1000  files of another patient (new UIDs) sent untimed first, as the dicom-store benchmark does, so that
#                      ours is measured once its hot code is compiled; 0 measures a just-started server
#   BENCH_PAUSE=15     seconds of rest after `sync` before each server starts (orthanc leaves its files dirty in the cache)
#   BENCH_REVERSE=1    runs the configurations in the reverse order (a second run then hands the drift to the others)
#   BENCH_SENDERS="1 2"  which sender counts to run (the two-server configurations run in the 2-sender pass only)
#   BENCH_ONLY='OrthancWeb.*'  an extended regex on the configurations' names (OrthancWeb|orthanc SQLite|PostgreSQL,
#                      "OrthancWeb, 2 servers, one PostgreSQL", "orthanc, 2 servers, one PostgreSQL"; '.*2 servers.*')
#   ORTHANC_PG_CONNECTIONS=5  the plugin's IndexConnectionsCount (its own default is 1)
#   BENCH_NO_BUILD=1   skips `dotnet build -c Release OrthancWeb` when the Release build is there
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
warmup_count=${BENCH_WARMUP:-1000} pause=${BENCH_PAUSE:-15} senders_list=${BENCH_SENDERS:-"1 2"}
orthanc_pg_connections=${ORTHANC_PG_CONNECTIONS:-5}
password=Bench-Pa55word scu_aet=BENCHSCU

[ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL is started as the 'postgres' user with runuser)" >&2; exit 2; }
for tool in storescu dcmodify curl jq psql runuser; do
  command -v $tool >/dev/null || { echo "$tool is needed: apt-get install -y dcmtk curl jq postgresql" >&2; exit 2; }
done
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || { echo "apt-get install -y postgresql" >&2; exit 2; }
[ -x /usr/sbin/Orthanc ] || { echo "apt-get install -y orthanc (run by hand here, never as a service)" >&2; exit 2; }
orthanc_pg_plugin=$(ls /usr/share/orthanc/plugins/libOrthancPostgreSQLIndex.so /usr/lib/orthanc/libOrthancPostgreSQLIndex.so* 2>/dev/null | head -1)
[ -n "$orthanc_pg_plugin" ] || { echo "apt-get install -y orthanc-postgresql" >&2; exit 2; }

# The data: the given folder, else the dicom-store benchmark's default set (same generator, same shape, same folder).
folder=${1:-}
if [ -z "$folder" ]; then
  folder=/tmp/orthancweb-bench-2000
  if [ "$(find "$folder" -name '*.dcm' 2>/dev/null | wc -l)" -lt 2000 ]; then
    gen=$(ls "$root/../shared/tools/gen_dataset.py" /work/shared/tools/gen_dataset.py 2>/dev/null | head -1)
    [ -n "$gen" ] || { echo "../shared/tools/gen_dataset.py not found; pass a folder of DICOM files" >&2; exit 2; }
    /usr/bin/python3 "$gen" "$folder" 20 2 2 25 512
  fi
fi
mapfile -t files < <(find "$folder" -maxdepth 1 -name '*.dcm' | sort)
count=${#files[@]}
[ "$count" -ge 2 ] || { echo "no .dcm files in $folder" >&2; exit 2; }
bytes=$(cat "${files[@]}" | wc -c)

# The warm-up set: the first files again under another patient, one study, one series, new SOP instance UIDs
# (dcmodify -gin also rewrites the meta header's copy). Made once per data folder and kept.
warmup=()
if [ "$warmup_count" -gt 0 ]; then
  n=$((warmup_count < count ? warmup_count : count))
  wdir=/tmp/pgbench-warmup-$n-$(basename "$folder")
  if [ "$(find "$wdir" -name '*.dcm' 2>/dev/null | wc -l)" != "$n" ]; then
    rm -rf "$wdir"; mkdir -p "$wdir"
    for ((i = 0; i < n; i++)); do cp "${files[$i]}" "$wdir/warmup_$(printf %04d $i).dcm"; done
    dcmodify -nb -gin -m "(0010,0010)=WARMUP^BENCH" -m "(0010,0020)=WARMUP" -m "(0008,0050)=WARMUP" \
      -m "(0008,0020)=20000101" -m "(0020,000d)=2.25.$((RANDOM + 1))$(date +%s%N)" \
      -m "(0020,000e)=2.25.$((RANDOM + 1))$(date +%s%N)1" "$wdir"/*.dcm >/dev/null
  fi
  mapfile -t warmup < <(find "$wdir" -name '*.dcm' | sort)
fi
expected=$((count + ${#warmup[@]}))

[ -f OrthancWeb/bin/Release/net10.0/OrthancWeb.dll ] && [ "${BENCH_NO_BUILD:-}" = 1 ] ||
  dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
ours_dll=$root/OrthancWeb/bin/Release/net10.0/OrthancWeb.dll

# Data under /var/tmp, not /tmp: file creation in /tmp is dearer on these machines (see BenchServers.NewWorkFolder).
work=$(mktemp -d "${BENCH_WORK_DIR:-/var/tmp}/pg-bench.XXXXXX")
chmod 755 "$work"
pg_dir=$work/postgres
srv_pids=() srv_http=() srv_dicom=() srv_dirs=() pg_started=0
cleanup() {
  local rc=$?
  set +e
  for p in "${srv_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for p in $(jobs -p); do kill "$p" 2>/dev/null; done
  [ $pg_started = 1 ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -t 30 -m fast stop >/dev/null 2>&1
  # On failure the servers' and storescu's logs and the configs are kept (not the data).
  if [ $rc != 0 ] && [ $rc != 130 ]; then
    mkdir -p "$work-logs" && (cd "$work" && find . -path ./postgres/data -prune -o \( -name log -o -name '*.log' -o -name '*.json' \) -print0 |
      xargs -0r cp --parents -t "$work-logs") && echo "logs kept in $work-logs" >&2
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port in [20000, 32000) that nothing listens on: never an ephemeral one, which an outgoing connection could take.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo $p; return; }
  done
}

# The throwaway PostgreSQL, as OrthancWeb.Tests/Infrastructure/PostgresServer.cs starts it: initdb as 'postgres' into
# the work folder, trust on loopback, socket in the folder, a free port. Default settings otherwise (fsync and
# synchronous_commit on: an acknowledged instance is durable on both servers), plus pg_stat_statements for the profile.
mkdir "$pg_dir" && chown postgres "$pg_dir"
pg_port=$(free_port)
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 start \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c track_wal_io_timing=on" >/dev/null
pg_started=1
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "${2:-postgres}" -c "$1"; }
sql "CREATE EXTENSION pg_stat_statements"
postmaster=$(head -1 "$pg_dir/data/postmaster.pid")

# CPU seconds (user + system) of a process and of its children that have exited and been waited for.
cpu_of() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13 + $14 + $15) / hz }'; }
# The system (kernel) part of that alone.
sys_of() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($13 + $15) / hz }'; }
# PostgreSQL's CPU so far: the postmaster with its reaped children, and the live backends.
pg_cpu() {
  local total
  total=$(cpu_of "$postmaster")
  for c in $(pgrep -P "$postmaster"); do total=$(awk -v a="$total" -v b="$(cpu_of "$c" 2>/dev/null)" 'BEGIN { print a + b }'); done
  echo "$total"
}

# launch <kind> <dir> <db or empty> <shared storage folder or empty> <identifier>: writes the config and starts one server
# (TCP_NODELAY=1, as storescu) without waiting for it; appends to srv_pids, srv_http, srv_dicom, srv_dirs. Sets aec, auth.
launch() {
  local kind=$1 dir=$2 db=$3 storage=$4 id=$5 https http dicom
  mkdir -p "$dir"
  http=$(free_port) dicom=$(free_port) https=$(free_port)
  if [ "$kind" = ours ]; then
    local index="" shared=""
    [ -n "$db" ] && index=", \"IndexProvider\": \"PostgreSQL\", \"IndexConnectionString\": \"Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=$db\""
    # Several servers on one index: the same index and one storage folder. DatabaseServerIdentifier is left to its
    # default (the host and the data folder), unique since each server has a data folder of its own.
    [ -n "$storage" ] && shared=", \"StorageDirectory\": \"$storage\""
    cat >"$dir/appsettings.json" <<EOF
{ "OrthancWeb": { "HttpsPort": $https, "HttpPort": $http, "DicomPort": $dicom, "DicomAet": "OWEB",
    "DataDirectory": "data", "RemoteAccessAllowed": false,
    "DicomModalities": { "bench": { "AET": "$scu_aet", "Host": "127.0.0.1", "Port": 1 } }$index$shared } }
EOF
    (cd "$dir" && TCP_NODELAY=1 Security__AdminPassword=$password Logging__LogLevel__Default=Warning \
      exec dotnet "$ours_dll" --config "$dir/appsettings.json") >"$dir/log" 2>&1 &
    aec=OWEB auth=(-u "admin:$password")
  else
    local plugins="" pg="" lock=""
    if [ -n "$db" ]; then
      plugins="\"$orthanc_pg_plugin\""
      # Several Orthancs on one database (Orthanc Book: PostgreSQL plugins, "Locking"; Scalability, multiple writers,
      # Orthanc 1.9.2 and plugin 4.0 on): the plugin's lock off, a DatabaseServerIdentifier per server, one storage.
      [ -n "$storage" ] && lock="\"Lock\": false, "
      # The Orthanc Book's PostgreSQL plugin section: the index in PostgreSQL, the files on disk as for SQLite.
      pg=", \"PostgreSQL\": { $lock\"EnableIndex\": true, \"EnableStorage\": false, \"Host\": \"127.0.0.1\", \"Port\": $pg_port,
    \"Database\": \"$db\", \"Username\": \"postgres\", \"Password\": \"\", \"IndexConnectionsCount\": $orthanc_pg_connections }"
    fi
    cat >"$dir/orthanc.json" <<EOF
{ "Name": "bench", "StorageDirectory": "${storage:-$dir/storage}", "IndexDirectory": "$dir/index",
  "DatabaseServerIdentifier": "$id",
  "HttpPort": $http, "DicomPort": $dicom, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "StorageCompression": false, "Plugins": [ $plugins ],
  "DicomModalities": { "bench": [ "$scu_aet", "127.0.0.1", 1 ] }$pg }
EOF
    (cd "$dir" && TCP_NODELAY=1 exec /usr/sbin/Orthanc "$dir/orthanc.json") >"$dir/log" 2>&1 &
    aec=ORTHANC auth=()
  fi
  srv_pids+=($!) srv_http+=("$http") srv_dicom+=("$dicom") srv_dirs+=("$dir")
}

# wait_up <i>: waits until server i answers /system.
wait_up() {
  local i=$1 t0=$SECONDS
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${auth[@]}" "http://127.0.0.1:${srv_http[$i]}/system" || true)" = 200 ]; do
    kill -0 "${srv_pids[$i]}" 2>/dev/null || { echo "server $i exited at start-up; its log:" >&2; cat "${srv_dirs[$i]}/log" >&2; exit 1; }
    [ $((SECONDS - t0)) -gt 180 ] && { echo "server $i did not answer within 180 s; its log:" >&2; cat "${srv_dirs[$i]}/log" >&2; exit 1; }
    sleep 0.1
  done
}

# start <kind> <dir> <db or empty> <servers>: after a rest, <servers> servers on one index (and one storage folder when
# several), each in <dir>/server<i>. Ours start together (their migrations and start-up checks take turns on the
# database); orthanc's one after the other: the Orthanc Book does not say that two may create the plugin's schema at once.
start() {
  local kind=$1 dir=$2 db=$3 servers=$4 storage="" i
  srv_pids=() srv_http=() srv_dicom=() srv_dirs=()
  # Every server starts with nothing of another's left to write, then a rest (see BenchServers.LaunchAsync).
  sync
  [ -n "$db" ] && sql "CHECKPOINT" >/dev/null
  sleep "$pause"
  if [ "$servers" -gt 1 ]; then storage=$dir/storage; mkdir -p "$storage"; fi
  for ((i = 0; i < servers; i++)); do
    launch "$kind" "$dir/server$i" "$db" "$storage" "bench-$i"
    if [ "$kind" = orthanc ]; then wait_up $i; fi
  done
  for ((i = 0; i < servers; i++)); do wait_up $i; done
}

stop() {
  local p
  for p in "${srv_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${srv_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  srv_pids=()
}

# send <log> <server> <files...>: one storescu to server <server>, one association, the files one after the other;
# fails on any error.
send() {
  local log=$1 port=${srv_dicom[$2]}
  shift 2
  TCP_NODELAY=1 storescu -aet "$scu_aet" -aec "$aec" 127.0.0.1 "$port" "$@" >"$log" 2>&1 ||
    { echo "storescu failed (exit $?):" >&2; tail -20 "$log" >&2; return 1; }
  if grep -q '^E:' "$log"; then echo "storescu reported errors:" >&2; grep '^E:' "$log" | head -20 >&2; return 1; fi
}

# send_split <label> <log prefix> <senders> <files...>: <senders> concurrent storescu on contiguous shares (each sender
# its own patients, as two modalities would send), sender i to server i modulo the servers running; returns once the
# last has had its last acknowledgement.
send_split() {
  local label=$1 prefix=$2 senders=$3
  shift 3
  local list=("$@") half i p pids=()
  half=$(((${#list[@]} + senders - 1) / senders))
  for ((i = 0; i < senders; i++)); do
    send "$prefix-$i.log" $((i % ${#srv_pids[@]})) "${list[@]:$((i * half)):$half}" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "[$label] a sender failed" >&2; exit 1; }; done
}

instances() { curl -sf --max-time 60 "${auth[@]}" "http://127.0.0.1:${srv_http[$1]}/statistics" | jq -r .CountInstances; }

# servers_cpu <cpu_of|sys_of>: the CPU of all the servers of the run.
servers_cpu() {
  local p t=0
  for p in "${srv_pids[@]}"; do t=$(awk -v a="$t" -v b="$($1 "$p")" 'BEGIN { print a + b }'); done
  echo "$t"
}

# run <label> <kind> <sqlite|pg> <servers> <senders>: fresh servers; appends "label senders rate MBps serverCPUus pgCPUus
# dbMB seconds kernelus" to $work/results. One server: fails unless it ends with exactly the expected count of
# instances. Several: a correctness line (each server's count against the files sent) on the output and in $work/correct.
run() {
  local label=$1 kind=$2 index=$3 servers=$4 senders=$5 db="" dir t0 t1 cpu0 cpu1 pg0 pg1 got size=- i counts=() verdict
  dir=$work/$kind-$index-$servers-$senders
  if [ "$index" = pg ]; then
    db=${kind}_${servers}x${senders}
    sql "CREATE DATABASE $db"
  fi
  start "$kind" "$dir" "$db" "$servers"
  if [ "$servers" -gt 1 ]; then
    echo "[$label] $(for ((i = 0; i < servers; i++)); do
      curl -sf --max-time 30 "${auth[@]}" "http://127.0.0.1:${srv_http[$i]}/system" |
        jq -r --arg n $((i + 1)) '"server \($n): DatabaseServerIdentifier \(.DatabaseServerIdentifier // "-"), IndexLeader \(.IndexLeader | if . == null then "-" else tostring end)"'
    done | paste -sd';' | sed 's/;/; /g')"
  fi
  # The warm-up: its share to each server at once (on one index, two servers then race to create the warm-up patient).
  [ ${#warmup[@]} -gt 0 ] && send_split "$label" "$dir/warmup" "$servers" "${warmup[@]}"
  [ -n "$db" ] && sql "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
  echo "[$label, $senders sender(s)] load: $(uptime | sed 's/.*load/load/')"
  cpu0=$(servers_cpu cpu_of) sys0=$(servers_cpu sys_of) pg0=$(pg_cpu)
  t0=$(date +%s%N)
  if [ "$senders" = 1 ]; then
    send "$dir/send-0.log" 0 "${files[@]}"
  else
    send_split "$label" "$dir/send" "$senders" "${files[@]}"
  fi
  t1=$(date +%s%N)
  cpu1=$(servers_cpu cpu_of) sys1=$(servers_cpu sys_of) pg1=$(pg_cpu)
  for ((i = 0; i < servers; i++)); do counts+=("$(instances $i)"); done
  if [ "$servers" = 1 ]; then
    if [ "${counts[0]}" != "$expected" ]; then
      echo "FAILED: [$label, $senders sender(s)] /statistics says CountInstances=${counts[0]}, expected $expected ($count + ${#warmup[@]} warm-up)" >&2
      exit 1
    fi
  else
    # One archive: every server counts every instance sent to any of them, warm-up included. Checked at once after the
    # last acknowledgement, since an acknowledged instance is in the index.
    verdict=OK
    for got in "${counts[@]}"; do [ "$got" = "$expected" ] || verdict=FAILED; done
    printf '%-38s %-6s /statistics CountInstances: %s; files sent: %s (%s + %s warm-up)\n' "$label" "$verdict" \
      "$(for ((i = 0; i < servers; i++)); do echo "server $((i + 1)) ${counts[$i]}"; done | paste -sd';' | sed 's/;/, /g')" \
      "$expected" "$count" "${#warmup[@]}" | tee -a "$work/correct"
  fi
  stop
  if [ -n "$db" ]; then
    # After the servers have stopped: their backends have then reported their statistics (WAL figures are flushed late).
    sleep 1
    size=$(sql "SELECT pg_database_size('$db') / 1048576.0" | awk '{ printf "%.1f", $1 }')
    # The statements that cost most during the timed ingest (time inside PostgreSQL, all calls of one statement).
    sql "SELECT round(total_exec_time::numeric, 0) || ' ms ' || calls || ' calls ' || round((total_exec_time / calls)::numeric, 3) || ' ms/call: ' ||
           left(regexp_replace(query, '\s+', ' ', 'g'), 160)
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')
         ORDER BY total_exec_time DESC LIMIT 6" >"$work/top-$db"
    sql "SELECT sum(calls) || ' statements (' || round(sum(calls) / $count.0, 1) || ' per instance), ' || round(sum(total_exec_time)::numeric, 0) || ' ms inside PostgreSQL'
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')" >"$work/total-$db"
    # Transactions and WAL flushes: a commit waits for its WAL flush (synchronous_commit on), inside the writer's turn.
    sql "SELECT coalesce(sum(calls) FILTER (WHERE query ILIKE 'commit%'), 0) || ' COMMITs (' ||
           round($count / greatest(coalesce(sum(calls) FILTER (WHERE query ILIKE 'commit%'), 0), 1)::numeric, 1) || ' instances per COMMIT)'
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$db')" >>"$work/total-$db"
    sql "SELECT wal_sync || ' WAL flushes taking ' || round(wal_sync_time::numeric) || ' ms, ' || pg_size_pretty(wal_bytes) || ' of WAL (' ||
           pg_size_pretty((wal_bytes / $count)::bigint) || ' per instance)' FROM pg_stat_wal" >>"$work/total-$db"
  fi
  awk -v l="$label" -v s="$senders" -v ns=$((t1 - t0)) -v n="$count" -v b="$bytes" -v c0="$cpu0" -v c1="$cpu1" -v s0="$sys0" -v s1="$sys1" -v p0="$pg0" -v p1="$pg1" -v sz="$size" \
    'BEGIN { t = ns / 1e9; printf "%s|%s|%.0f|%.1f|%.0f|%s|%s|%.1f|%.0f\n", l, s, n / t, b / 1048576 / t, (c1 - c0) * 1e6 / n,
             (sz == "-" ? "-" : sprintf("%.0f", (p1 - p0) * 1e6 / n)), sz, t, (s1 - s0) * 1e6 / n }' >>"$work/results"
  tail -1 "$work/results" | awk -F'|' '{ printf "[%s, %s sender(s)] %s instances/s, %s MB/s in %s s; %s instances checked\n", $1, $2, $3, $4, $8, '"$expected"' }'
}

configs=("OrthancWeb SQLite|ours|sqlite|1" "OrthancWeb PostgreSQL|ours|pg|1" "orthanc SQLite|orthanc|sqlite|1" "orthanc PostgreSQL|orthanc|pg|1"
  "OrthancWeb, 2 servers, one PostgreSQL|ours|pg|2" "orthanc, 2 servers, one PostgreSQL|orthanc|pg|2")
if [ "${BENCH_REVERSE:-}" = 1 ]; then
  mapfile -t configs < <(printf '%s\n' "${configs[@]}" | tac)
fi
if [ -n "${BENCH_ONLY:-}" ]; then
  mapfile -t configs < <(printf '%s\n' "${configs[@]}" | grep -E "^(${BENCH_ONLY})\|")
  [ ${#configs[@]} -gt 0 ] || { echo "BENCH_ONLY=$BENCH_ONLY matches none of the configurations" >&2; exit 2; }
fi
echo "PostgreSQL benchmark: $count files ($((bytes / 1048576)) MB) from $folder with storescu (TCP_NODELAY=1), after ${#warmup[@]} warm-up files;"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{ print $3 }') on port $pg_port (default settings, fsync on); orthanc $(/usr/sbin/Orthanc --version | awk 'NR == 1 { print $NF }'), PostgreSQL plugin IndexConnectionsCount=$orthanc_pg_connections"
echo "$(nproc) cores; load before: $(uptime)"
for senders in $senders_list; do
  for c in "${configs[@]}"; do
    IFS='|' read -r label kind index servers <<<"$c"
    # A server per sender: the two-server configurations run in the 2-sender pass.
    [ "$servers" -gt 1 ] && [ "$servers" != "$senders" ] && continue
    run "$label" "$kind" "$index" "$servers" "$senders"
  done
done
echo "load after:  $(uptime)"

echo
printf '%-38s %7s %12s %7s %26s %13s %14s\n' "" senders instances/s MB/s "server CPU/inst (kernel)" "PG CPU/inst" "PG db size MB"
for c in "${configs[@]}"; do awk -F'|' -v l="${c%%|*}" '$1 == l' "$work/results"; done |
  awk -F'|' '{ printf "%-38s %7s %12s %7s %15s µs (%5s) %10s%s %14s\n", $1, $2, $3, $4, $5, $9, $6, ($6 == "-" ? "   " : " µs"), $7 }'
echo "(PG db size: pg_database_size after ${expected} instances, warm-up included; PG CPU: the postmaster and its backends;"
echo " 2 servers: one storescu each, rate = all files / wall time from the first send to the last acknowledgement, CPU of both)"
if [ -f "$work/correct" ]; then
  echo
  echo "Two servers on one database, each server's count once the last send was acknowledged:"
  cat "$work/correct"
fi
for f in "$work"/top-*; do
  [ -f "$f" ] || continue
  db=${f##*/top-}
  echo
  echo "PostgreSQL, database $db, timed ingest: $(paste -sd';' "$work/total-$db" | sed 's/;/; /g')"
  echo "  costliest statements (time inside PostgreSQL):"
  sed 's/^/  /' "$f"
done
! grep -q FAILED "$work/correct" 2>/dev/null
