#!/usr/bin/env bash
# Browser upload at the server's speed (issue 16): a CD's worth of files (BENCH_UPLOAD_FILES, default 1,400 of the
# 2000-instance set, about 700 MB) through the upload page in Debian's chromium, then the same files over REST into
# ours and into Debian's orthanc, six at a time; BENCH_ROUNDS rounds (default 2). Target: the browser under 10 s.
#   apt-get install -y chromium orthanc python3-pydicom python3-numpy
#   benchmarks/upload-benchmark.sh [folder-of-dicom-files]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet build -c Release benchmarks/OrthancWeb.Benchmarks -v q -nologo >/dev/null
dotnet run -c Release --no-build --project benchmarks/OrthancWeb.Benchmarks -- upload "$@"
