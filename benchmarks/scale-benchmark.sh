#!/usr/bin/env bash
# A million instances (issue 20): for 10,000 and 1,000,000 instances, on SQLite and on PostgreSQL, an index generated
# straight into its tables (no files; `generate-index`), our server (Release build) started on it with
# StartupCheckAllFiles off (the generated files do not exist), then, warm, median of 31 runs: /tools/find at study
# level by patient name (wildcard, exact), PatientID, a 7-day StudyDate range and AccessionNumber; C-FIND at study level
# (our SCU, a new association each time); the studies grid's first page and page 1000 sorted by date and by name (page
# 1000 both jumped to, an OFFSET walk, and reached from page 999, a seek from its last key) and the patients grid
# (through ExplorerService, the service the Blazor pages call); /statistics; /changes?since=.
# Prints one table, a column per index. Targets: each at 1M within 2x of its 10k figure, study lookups under 20 ms.
#   apt-get install -y postgresql
#   benchmarks/scale-benchmark.sh [sizes, default 10000,1000000]      (as root: PostgreSQL runs as the 'postgres' user)
# Environment:
#   BENCH_PROVIDERS=Sqlite,PostgreSQL   which providers (Sqlite alone needs neither root nor PostgreSQL)
#   BENCH_NO_BUILD=1                    skips the Release build
# Generation alone: dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- generate-index Sqlite|PostgreSQL <file|connection> [count]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-10000,1000000}
providers=${BENCH_PROVIDERS:-Sqlite,PostgreSQL}

[ "${BENCH_NO_BUILD:-}" = 1 ] || dotnet build -c Release benchmarks/OrthancWeb.Benchmarks -v q -nologo >/dev/null
bench=benchmarks/OrthancWeb.Benchmarks/bin/Release/net10.0/OrthancWeb.Benchmarks.dll

pg=""
if [[ ,$providers, == *,PostgreSQL,* ]]; then
  [ "$(id -u)" = 0 ] || { echo "run as root (PostgreSQL is started as the 'postgres' user with runuser), or BENCH_PROVIDERS=Sqlite" >&2; exit 2; }
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pg_bin/initdb" ] || { echo "apt-get install -y postgresql" >&2; exit 2; }
  # The throwaway PostgreSQL, as postgresql-benchmark.sh and the tests start it: initdb as 'postgres' into a work
  # folder under /var/tmp, trust on loopback, a free port; default settings otherwise.
  work=$(mktemp -d "${BENCH_WORK_DIR:-/var/tmp}/scale-bench.XXXXXX")
  chmod 755 "$work"
  pg_dir=$work/postgres
  mkdir "$pg_dir" && chown postgres "$pg_dir"
  cleanup() {
    local rc=$?
    set +e
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -t 30 -m fast stop >/dev/null 2>&1
    rm -rf "$work"
    exit $rc
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  while :; do
    pg_port=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htln "sport = :$pg_port")" ] && break
  done
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 start \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300" >/dev/null
  pg="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Timeout=60;Command Timeout=0"
fi

echo "scale benchmark: $sizes instances on $providers; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_PAUSE=${BENCH_PAUSE:-0} BENCH_PROVIDERS=$providers dotnet "$bench" scale "$sizes" ${pg:+"$pg"}
