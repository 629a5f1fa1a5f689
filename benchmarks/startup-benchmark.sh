#!/usr/bin/env bash
# Start-up and idle memory (issue 21): OrthancWeb against Debian's orthanc, each started N times on a fresh data folder
# (first start: certificate, databases, migrations, administrator) and once more on that same folder (restart, what a
# hospital sees after an upgrade or a reboot). Measured from the moment the process is started to the first 200 answer
# of GET /system (HTTP Basic, plain HTTP port, polled every 10 ms), then VmRSS after 10 s without any request.
# Both servers get the same shape of configuration: their own ports, a temp data folder, one admin user, no plugins.
#   apt-get install -y orthanc curl   (orthanc is started by the benchmark, never as a service)
#   benchmarks/startup-benchmark.sh [--rounds 5] [--idle 10] [--publish DIR | --debug] [--ours-only]
#     --publish DIR  an existing publish folder of ours (default: `dotnet publish -c Release` into bin/Release/publish)
#     --debug        the Debug build, started as the test suite starts it (`dotnet OrthancWeb.dll`)
#     --ours-only    skip orthanc (for trying a lever on ours)
# DOTNET_* variables in the environment reach our server (e.g. DOTNET_GCgen0size=... to try a GC setting).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 idle=10 publish="" debug=0 ours_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --idle) idle=$2; shift ;;
    --publish) publish=$2; shift ;;
    --debug) debug=1 ;;
    --ours-only) ours_only=1 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
command -v curl >/dev/null || { echo "curl is needed: apt-get install -y curl" >&2; exit 2; }
[ $ours_only = 1 ] || [ -x /usr/sbin/Orthanc ] || { echo "apt-get install -y orthanc (run by hand here, never as a service)" >&2; exit 2; }

if [ $debug = 1 ]; then
  dotnet build OrthancWeb -v q -nologo >/dev/null
  ours=(dotnet "$PWD/OrthancWeb/bin/Debug/net10.0/OrthancWeb.dll") ours_name="OrthancWeb (Debug)"
else
  if [ -z "$publish" ]; then
    publish=$PWD/OrthancWeb/bin/Release/publish
    dotnet publish -c Release OrthancWeb -o "$publish" -v q -nologo >/dev/null
  fi
  ours=("$(cd "$publish" && pwd)/OrthancWeb") ours_name="OrthancWeb (publish)"
fi

password=Bench-Admin-Pa55
# Data under /var/tmp, not /tmp: file creation in /tmp is dearer on these machines (see README).
work=$(mktemp -d "${BENCH_WORK_DIR:-/var/tmp}/startup-bench.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A port in [20000, 32000) that nothing listens on: never an ephemeral one, which an outgoing connection could take.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo $p; return; }
  done
}

# write_config <server> <folder>: the config file of a fresh folder (kept as it is for the restart); prints the HTTP port.
write_config() {
  local server=$1 dir=$2 http https dicom
  http=$(free_port) https=$(free_port) dicom=$(free_port)
  if [ "$server" = ours ]; then
    cat >"$dir/appsettings.json" <<EOF
{ "OrthancWeb": { "HttpsPort": $https, "HttpPort": $http, "DicomPort": $dicom, "DataDirectory": "data", "RemoteAccessAllowed": false },
  "Security": { "AdminPassword": "$password" } }
EOF
  else
    cat >"$dir/orthanc.json" <<EOF
{ "Name": "bench", "StorageDirectory": "$dir/storage", "IndexDirectory": "$dir/index",
  "HttpPort": $http, "DicomPort": $dicom, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": true, "RegisteredUsers": { "admin": "$password" }, "Plugins": [] }
EOF
  fi
  echo "$http" >"$dir/http-port"
}

# CPU seconds (user + system, all threads) the process has used so far: the part of a start that the load of a shared
# machine does not stretch, unlike the wall time.
cpu_seconds() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }'; }

# run <server> <folder>: starts it, prints "<seconds to first /system 200> <idle VmRSS in MB> <CPU seconds to that
# answer>", stops it (SIGTERM).
run() {
  local server=$1 dir=$2 http t0 t1 code rss cpu
  http=$(cat "$dir/http-port")
  t0=$(date +%s%N)
  if [ "$server" = ours ]; then
    (cd "$dir" && exec "${ours[@]}" --config "$dir/appsettings.json") >>"$dir/log" 2>&1 &
  else
    (cd "$dir" && exec /usr/sbin/Orthanc "$dir/orthanc.json") >>"$dir/log" 2>&1 &
  fi
  pid=$!
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u "admin:$password" "http://127.0.0.1:$http/system" || true)
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || { echo "$server exited at start-up; its log:" >&2; cat "$dir/log" >&2; exit 1; }
    [ $(( $(date +%s%N) - t0 )) -gt 180000000000 ] && { echo "$server did not answer within 180 s" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s%N)
  cpu=$(cpu_seconds "$pid")
  sleep "$idle"
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  awk -v ns=$((t1 - t0)) -v kb="$rss" 'BEGIN { printf "%.3f %.0f", ns / 1e9, kb / 1024 }'
  echo " $cpu"
}

# One round of a server: a fresh folder, first start, then a restart on it. Appends to $work/<server>.
round() {
  local server=$1 dir
  dir=$(mktemp -d "$work/$server.XXXX")
  write_config "$server" "$dir" >/dev/null
  echo "$(run "$server" "$dir") $(run "$server" "$dir")" >>"$work/$server"
  rm -rf "$dir"
}

echo "load before: $(uptime)"
for ((r = 0; r < rounds; r++)); do
  # Alternating order, as the other benchmarks do: neither server always gets the quieter moment.
  if [ $ours_only = 1 ]; then round ours
  elif [ $((r % 2)) = 0 ]; then round ours; round orthanc
  else round orthanc; round ours
  fi
done
echo "load after:  $(uptime)"

# stat <file> <column>: "median (min-max)" of that column over the rounds.
stat() {
  cut -d' ' -f"$2" "$1" | sort -g | awk -v fmt="$3" '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf fmt " (" fmt "-" fmt ")", m, v[1], v[NR] }'
}
orthanc_version=$([ $ours_only = 1 ] || /usr/sbin/Orthanc --version | awk 'NR == 1 { print $NF }')
printf '\n%s rounds, %s s idle before VmRSS; median (min-max)\n' "$rounds" "$idle"
printf '%-34s %-24s %s\n' "" "$ours_name" "$([ $ours_only = 1 ] || echo "orthanc $orthanc_version")"
row() {
  printf '%-34s %-24s %s\n' "$1" "$(stat "$work/ours" "$2" "$3")" "$([ $ours_only = 1 ] || stat "$work/orthanc" "$2" "$3")"
}
row "first start to /system, s" 1 "%.2f"
row "  CPU used by then, s" 3 "%.2f"
row "idle RSS after first start, MB" 2 "%.0f"
row "restart to /system, s" 4 "%.2f"
row "  CPU used by then, s" 6 "%.2f"
row "idle RSS after restart, MB" 5 "%.0f"
