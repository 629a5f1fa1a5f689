#!/usr/bin/env bash
# OHIF's time to first image on a 500-slice CT in Debian's chromium: the same OHIF bundle served by OrthancWeb (HTTPS
# and the login cookie; again over plain HTTP with Basic) and by Debian's orthanc 1.10.1 (ServeFolders plugin beside
# its DICOMweb plugin, plain HTTP), each reading its own server's DICOMweb. A fresh browser context (cold cache) per
# load against warm servers, BENCH_ROUNDS rounds (default 5), medians printed side by side. Not run by CI.
#   apt-get install -y chromium orthanc orthanc-dicomweb python3-pydicom python3-numpy
#   benchmarks/ohif-benchmark.sh [folder-of-the-500-instance-series]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release OrthancWeb -v q -nologo >/dev/null
dotnet build -c Release benchmarks/OrthancWeb.Benchmarks -v q -nologo >/dev/null
dotnet run -c Release --no-build --project benchmarks/OrthancWeb.Benchmarks -- ohif "$@"
