#!/usr/bin/env bash
# REST ingest and /tools/find: OrthancWeb against Debian's orthanc on the 2000-instance set of
# ../shared/tools/gen_dataset.py, one after the other in one run. Not run by CI (it takes minutes).
#   apt-get install -y orthanc python3-pydicom python3-numpy   (orthanc is started by the benchmark, never as a service)
#   benchmarks/store-benchmark.sh [folder-of-dicom-files]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- store "$@"
