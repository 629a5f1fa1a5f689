#!/usr/bin/env bash
# Load with faults in mind (issue 15): storescu associations and REST uploaders storing new instances as fast as the
# server takes them, while Debian's chromium pages through the studies grid; every grid page is timed in the page
# (click on "next page" to the frame after its rows are in), and every acknowledged instance is looked for afterwards.
# The suite runs the same code for 15 s at a smaller load (OrthancWeb.Tests/Faults/LoadTests.cs); this runs it at
# full size on the Release build and checks the grid's p95 against the target.
#   apt-get install -y dcmtk chromium
#   benchmarks/load-benchmark.sh [--seconds 120] [--associations 32] [--uploaders 4] [--seed-studies 1000]
#                                [--pixel-bytes 65536] [--instances-per-study 25] [--target-ms 300]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=120 associations=32 uploaders=4 seed_studies=1000 pixel_bytes=65536 per_study=25 target_ms=300
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2 ;;
    --associations) associations=$2 ;;
    --uploaders) uploaders=$2 ;;
    --seed-studies) seed_studies=$2 ;;
    --pixel-bytes) pixel_bytes=$2 ;;
    --instances-per-study) per_study=$2 ;;
    --target-ms) target_ms=$2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift 2
done
dotnet build -c Release OrthancWeb.Tests -v q -nologo >/dev/null
# The server's data folder goes under /var/tmp, not /tmp (see README: file creation in /tmp is 3-4x dearer on these
# machines after the test suites' churn); BENCH_WORK_DIR chooses another.
work=${BENCH_WORK_DIR:-/var/tmp}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
TMPDIR=$work ORTHANCWEB_LOAD_SECONDS=$seconds ORTHANCWEB_LOAD_ASSOCIATIONS=$associations ORTHANCWEB_LOAD_UPLOADERS=$uploaders \
ORTHANCWEB_LOAD_SEED_STUDIES=$seed_studies ORTHANCWEB_LOAD_PIXEL_BYTES=$pixel_bytes ORTHANCWEB_LOAD_INSTANCES_PER_STUDY=$per_study \
  dotnet test OrthancWeb.Tests -c Release --no-build --filter "FullyQualifiedName~Faults.LoadTests" --logger "console;verbosity=detailed" \
  | tee "$out" | grep -E "^ *(load |[0-9]+ studies|Passed|Failed|\[xUnit.*(FAIL|Assert))" || true
result=$(grep -o 'load [0-9]* storescu.*' "$out" || true)
if [ -z "$result" ]; then echo "the load run did not finish; the whole output was:" >&2; cat "$out" >&2; exit 1; fi
grep -q "Passed OrthancWeb.Tests.Faults.LoadTests" "$out" || { echo "FAIL: acknowledged instances missing or the grid stopped answering (above)"; exit 1; }
p95=$(echo "$result" | sed -E 's/.*p95 ([0-9]+) ms.*/\1/')
if [ "$p95" -lt "$target_ms" ]; then echo "PASS: studies grid p95 ${p95} ms < ${target_ms} ms; nothing acknowledged was lost"
else echo "FAIL: studies grid p95 ${p95} ms >= ${target_ms} ms (nothing acknowledged was lost)"; exit 1; fi
