#!/usr/bin/env bash
# The audit trail's cost: (1) the store alone (Record on the caller's thread, entries/s the writer commits, verify),
# (2) storescu ingest with the trail on and off (Audit:AuditEnabled), alternating rounds; target < 5 %.
#   apt-get install -y dcmtk python3-pydicom python3-numpy
#   benchmarks/audit-benchmark.sh [folder-of-dicom-files]      BENCH_ROUNDS=4 by default
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet build -c Release benchmarks/OrthancWeb.Benchmarks -v q -nologo >/dev/null
dotnet run -c Release --no-build --project benchmarks/OrthancWeb.Benchmarks -- audit 100000
dotnet run -c Release --no-build --project benchmarks/OrthancWeb.Benchmarks -- audit-ingest "$@"
