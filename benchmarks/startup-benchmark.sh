#!/usr/bin/env bash
# Start-up and idle memory (issue 21): OrthancWeb against Debian's orthanc, each started N times on a fresh data folder
# (first start: certificate, databases, migrations, administrator) and once more on that same folder (restart, what a
# hospital sees after an upgrade or a reboot). Measured from the moment the process is started to the first 200 answer
# of GET /system (HTTP Basic, plain HTTP port, polled every 10 ms), then VmRSS after 10 s without any request.
# Both servers get the same shape of configuration: their own ports, a temp data folder, one admin user, no plugins.
#   apt-get install -y orthanc curl   (orthanc is started by the benchmark, never as a service)
#   benchmarks/startup-benchmark.sh [--rounds 5] [--idle 10] [--publish DIR | --debug] [--ours-only] [--floor]
#     --publish DIR  an existing publish folder of ours (default: `dotnet publish -c Release` into bin/Release/publish)
#     --debug        the Debug build, started as the test suite starts it (`dotnet OrthancWeb.dll`)
#     --ours-only    skip orthanc (for trying a lever on ours)
#     --floor        two more columns: what the platform itself costs, published as ours is (ReadyToRun, workstation GC)
#                    and measured the same way. "empty web app" is `dotnet new web` (one endpoint, nothing else);
#                    "empty stack" is Microsoft's own template for the stack this product is built on, `dotnet new
#                    blazor --auth Individual` (Blazor Server, ASP.NET Identity, EF Core on SQLite), with only what the
#                    measurement needs added: migrations and an admin account at start, and a /system that checks
#                    HTTP Basic against Identity, as ours does.
# DOTNET_* variables in the environment reach our server (e.g. DOTNET_GCgen0size=... to try a GC setting).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 idle=10 publish="" debug=0 ours_only=0 floor=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --idle) idle=$2; shift ;;
    --publish) publish=$2; shift ;;
    --debug) debug=1 ;;
    --ours-only) ours_only=1 ;;
    --floor) floor=1 ;;
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

# The floor apps, generated from the SDK's templates into the work folder and published as ours is.
if [ $floor = 1 ]; then
  dotnet new web -o "$work/src/web" -n FloorWeb >/dev/null
  sed -i 's|app.MapGet("/", () => "Hello World!");|app.MapGet("/system", () => Results.Json(new { Name = "floor" }));|' \
    "$work/src/web/Program.cs"
  dotnet new blazor --auth Individual -o "$work/src/stack" -n FloorStack >/dev/null
  rm -f "$work/src/stack/Data/app.db"   # a first start creates it, as ours creates its databases
  /usr/bin/python3 - "$work/src/stack/Program.cs" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
start = """var app = builder.Build();
using (var scope = app.Services.CreateScope())
{
    scope.ServiceProvider.GetRequiredService<ApplicationDbContext>().Database.Migrate();
    var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
    if (await users.FindByNameAsync("admin") is null)
        await users.CreateAsync(new ApplicationUser { UserName = "admin", EmailConfirmed = true }, args[0]);
}
"""
system = """app.MapGet("/system", async (HttpContext context, UserManager<ApplicationUser> users) =>
{
    var header = context.Request.Headers.Authorization.ToString();
    if (!header.StartsWith("Basic ")) return Results.Unauthorized();
    var pair = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(header[6..])).Split(':', 2);
    var user = await users.FindByNameAsync(pair[0]);
    return user is not null && await users.CheckPasswordAsync(user, pair[1]) ? Results.Json(new { Name = "floor" }) : Results.Unauthorized();
});
app.Run();"""
assert src.count("var app = builder.Build();\n") == 1 and src.count("app.Run();") == 1, "the template changed shape"
open(path, "w").write(src.replace("var app = builder.Build();\n", start).replace("app.Run();", system))
PY
  for app in web stack; do
    dotnet publish -c Release "$work/src/$app" -o "$work/publish-$app" -r "$(dotnet --info | awk '/^ *RID:/ { print $2 }')" \
      --self-contained false -p:PublishReadyToRun=true -p:ServerGarbageCollection=false -v q -nologo >/dev/null
  done
fi

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
  if [ "${server#floor-}" != "$server" ]; then
    :   # ports and data folder are given at start
  elif [ "$server" = ours ]; then
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
  elif [ "$server" = floor-web ]; then
    (cd "$dir" && ASPNETCORE_URLS=http://127.0.0.1:$http exec "$work/publish-web/FloorWeb") >>"$dir/log" 2>&1 &
  elif [ "$server" = floor-stack ]; then
    (cd "$dir" && ASPNETCORE_URLS=http://127.0.0.1:$http ConnectionStrings__DefaultConnection="DataSource=$dir/app.db" \
      exec "$work/publish-stack/FloorStack" "$password") >>"$dir/log" 2>&1 &
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
  [ $floor = 0 ] || { round floor-web; round floor-stack; }
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
printf '%-34s %-24s %-24s' "" "$ours_name" "$([ $ours_only = 1 ] || echo "orthanc $orthanc_version")"
[ $floor = 0 ] && echo || printf '%-24s %s\n' "empty web app" "empty stack"
row() {
  printf '%-34s %-24s %-24s' "$1" "$(stat "$work/ours" "$2" "$3")" "$([ $ours_only = 1 ] || stat "$work/orthanc" "$2" "$3")"
  [ $floor = 0 ] && echo || printf '%-24s %s\n' "$(stat "$work/floor-web" "$2" "$3")" "$(stat "$work/floor-stack" "$2" "$3")"
}
row "first start to /system, s" 1 "%.2f"
row "  CPU used by then, s" 3 "%.2f"
row "idle RSS after first start, MB" 2 "%.0f"
row "restart to /system, s" 4 "%.2f"
row "  CPU used by then, s" 6 "%.2f"
row "idle RSS after restart, MB" 5 "%.0f"
