#!/usr/bin/env bash
# C-STORE with storescu (TCP_NODELAY=1) and C-FIND latency: OrthancWeb against Debian's orthanc, one after the other.
#   apt-get install -y orthanc dcmtk python3-pydicom python3-numpy
#   benchmarks/dicom-store-benchmark.sh [folder-of-dicom-files]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- dicom-store "$@"
