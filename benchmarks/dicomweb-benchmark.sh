#!/usr/bin/env bash
# DICOMweb: OrthancWeb against Debian's orthanc with its DICOMweb plugin (orthanc-dicomweb), one run: series metadata of
# a 500-instance series, QIDO-RS study searches over 2,000 instances, a frame and a rendered frame. Not run by CI.
#   apt-get install -y orthanc orthanc-dicomweb python3-pydicom python3-numpy
#   benchmarks/dicomweb-benchmark.sh [folder-of-the-2000-instance-set]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet run -c Release --project benchmarks/OrthancWeb.Benchmarks -- dicomweb "$@"
