#!/usr/bin/env bash
# ZIP archive of a 1000-instance study: OrthancWeb against Debian's orthanc in one run, MB/s and peak memory.
#   apt-get install -y orthanc python3-pydicom python3-numpy   (orthanc is started by the benchmark, never as a service)
#   benchmarks/archive-benchmark.sh [folder-of-dicom-files-of-one-study]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- archive "$@"
