#!/usr/bin/env bash
# CI check of the Debian package (issue 21): builds it with build-release.sh, installs it with dpkg -i, starts the
# INSTALLED server the way its systemd unit would (systemd does not run in this container: the unit's User, umask,
# WorkingDirectory, Environment and ExecStart, with NoNewPrivileges, on free ports given through the environment), walks
# the first login with the administrator the server seeds, checks /system over HTTPS and a C-ECHO, stops it, purges the
# package and checks that the user, the data and the files are gone. Any failure stops it with a message saying which
# step failed, the server's log when it ran, and the package purged.
#
# Usage (as root, on a machine without an orthancweb install of its own):
#   packaging/check-package.sh [--deb FILE]     --deb checks a package already built instead of building one
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$2; shift 2 ;;
    *) echo "check-package: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
work=$(mktemp -d /tmp/orthancweb-package-check.XXXXXX)
chmod 0755 "$work"
server_pid=""
installed=false
unit=/usr/lib/systemd/system/orthancweb.service

step() { echo "check-package: $*"; }
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if $installed; then dpkg --purge orthancweb >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "check-package: FAILED: $*" >&2
  if [ -s "$work/server.log" ]; then
    echo "---- server log (last 60 lines) ----" >&2
    tail -n 60 "$work/server.log" >&2
    echo "------------------------------------" >&2
  fi
  exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs and purges a Debian package)"
for tool in dpkg dpkg-deb curl echoscu setpriv python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
# Never touch a real installation: the check ends by purging the package, data folder included.
if dpkg-query -W -f='${Status}' orthancweb 2>/dev/null | grep -q "installed\|config-files"; then
  fail "the orthancweb package is already on this machine (dpkg -l orthancweb): the check would purge it and its data; remove it first"
fi
getent passwd orthancweb >/dev/null && fail "a user 'orthancweb' already exists: the check creates and deletes it; remove it first"
[ -e /var/lib/orthancweb ] && fail "/var/lib/orthancweb already exists: the check would delete it; move it away first"

# 1. Build.
if [ -z "$deb" ]; then
  step "building the package (build-release.sh --compression zstd: the release default xz takes minutes on 2 cores)"
  build_started=$(date +%s)
  "$root/packaging/build-release.sh" --out "$work/artifacts" --compression zstd > "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; fail "build-release.sh failed"; }
  deb=$(ls "$work"/artifacts/orthancweb_*_amd64.deb)
  step "built $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $(( $(date +%s) - build_started )) s"
fi
[ -f "$deb" ] || fail "no package at $deb"

# 2. Install.
step "dpkg -i"
dpkg -i "$deb" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; installed=true; fail "dpkg -i failed (a missing dependency? see above)"; }
installed=true

# 3. The layout the package promises.
getent passwd orthancweb >/dev/null || fail "postinst did not create the user orthancweb"
uid=$(id -u orthancweb)
[ "$uid" -lt 1000 ] || fail "orthancweb is not a system user (uid $uid)"
home=$(getent passwd orthancweb | cut -d: -f6)
shell=$(getent passwd orthancweb | cut -d: -f7)
[ "$home" = /var/lib/orthancweb ] || fail "orthancweb's home is $home, not /var/lib/orthancweb"
[ "$shell" = /usr/sbin/nologin ] || fail "orthancweb can log in (shell $shell)"
[ "$(stat -c '%U:%G %a' /var/lib/orthancweb)" = "orthancweb:orthancweb 700" ] \
  || fail "/var/lib/orthancweb is $(stat -c '%U:%G %a' /var/lib/orthancweb), not orthancweb:orthancweb 700"
[ "$(stat -c '%U:%G %a' /etc/orthancweb/appsettings.json)" = "root:orthancweb 640" ] \
  || fail "/etc/orthancweb/appsettings.json is $(stat -c '%U:%G %a' /etc/orthancweb/appsettings.json), not root:orthancweb 640"
grep -qx /etc/orthancweb/appsettings.json /var/lib/dpkg/info/orthancweb.conffiles || fail "the configuration is not a conffile"
grep -q '"DataDirectory": "/var/lib/orthancweb"' /etc/orthancweb/appsettings.json || fail "the installed configuration does not put the data in /var/lib/orthancweb"
[ -x /opt/orthancweb/OrthancWeb ] || fail "/opt/orthancweb/OrthancWeb is missing or not executable"
[ -f "$unit" ] || fail "$unit is missing"
[ -z "$(find /opt/orthancweb /etc/orthancweb ! -user root)" ] || fail "files under /opt or /etc not owned by root"
dpkg --verify orthancweb || fail "dpkg --verify found installed files that differ from the package"

# 4. The unit file, as systemd reads it (without a running systemd, verify still parses and checks it).
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" > "$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify rejected $unit"; }
  # Only the unit's own problems count: verify also reports on other units of this machine's configuration.
  if grep -i "orthancweb.service" "$work/verify.log" | grep -v "Failed to .*bus\|Failed to connect" >&2; then
    fail "systemd-analyze verify reported the problems above in $unit"
  fi
  step "systemd-analyze verify: $unit is valid"
else
  step "systemd-analyze not found: unit not verified"
fi

# 5. Start the installed server as the unit would.
unit_value() { sed -n "s/^$1=//p" "$unit"; }
user=$(unit_value User)
workdir=$(unit_value WorkingDirectory)
umask_value=$(unit_value UMask)
read -r -a exec_start <<< "$(unit_value ExecStart)"
mapfile -t unit_env < <(unit_value Environment)
[ "$user" = orthancweb ] && [ -n "$workdir" ] && [ ${#exec_start[@]} -gt 0 ] || fail "cannot read User, WorkingDirectory and ExecStart from $unit"
grep -qx 'NoNewPrivileges=yes' "$unit" && grep -qx 'ProtectSystem=strict' "$unit" && grep -qx 'PrivateTmp=yes' "$unit" \
  && grep -qx 'ReadWritePaths=/var/lib/orthancweb' "$unit" || fail "$unit lost some of its hardening"

read -r https_port http_port dicom_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')
aet=ORTHANCWEB
step "starting ${exec_start[*]} as $user in $workdir (HTTPS $https_port, HTTP $http_port, DICOM $dicom_port)"
(
  cd "$workdir"
  umask "${umask_value:-0022}"
  # systemd gives a service a clean environment: HOME of its user, a PATH, the unit's Environment= lines.
  exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" LANG=C.UTF-8 \
    "${unit_env[@]}" \
    OrthancWeb__HttpsPort="$https_port" OrthancWeb__HttpPort="$http_port" OrthancWeb__DicomPort="$dicom_port" \
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
    "${exec_start[@]}"
) > "$work/server.log" 2>&1 &
server_pid=$!
boot_started=$(date +%s.%N)

base="https://localhost:$https_port"
password_file=/var/lib/orthancweb/admin-password.txt
deadline=$(( $(date +%s) + 90 ))
status=000
while :; do
  kill -0 "$server_pid" 2>/dev/null || fail "the installed server exited during start-up"
  if [ -f "$password_file" ]; then
    status=$(curl -ks -o /dev/null -w '%{http_code}' -u "admin:$(cat "$password_file")" "$base/system" || true)
    [ "$status" != 000 ] && break
  fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "no answer from $base/system within 90 s (last status $status)"
  sleep 0.2
done
step "first answer over HTTPS after $(echo "$(date +%s.%N) - $boot_started" | bc | cut -c1-5) s"
[ "$(ps -o user= -p "$server_pid")" = orthancweb ] || fail "the server runs as $(ps -o user= -p "$server_pid"), not orthancweb"
[ -z "$(find /var/lib/orthancweb ! -user orthancweb)" ] || fail "files in /var/lib/orthancweb not owned by orthancweb: $(find /var/lib/orthancweb ! -user orthancweb | head -3)"
[ -z "$(find /var/lib/orthancweb -mindepth 1 -perm /077)" ] || fail "files in /var/lib/orthancweb readable by others: $(find /var/lib/orthancweb -mindepth 1 -perm /077 | head -3)"
grep -q '^<[0-7]>' "$work/server.log" || fail "the log is not in the systemd format the unit's Environment= asks for"

# 6. The administrator the server seeded: its generated password works but must be changed first (403 saying so).
password=$(cat "$password_file")
[ "$status" = 403 ] || fail "GET /system with the generated password answered $status, expected 403 (password must be changed)"
curl -ks -u "admin:$password" "$base/system" | grep -q "must be changed" || fail "the 403 does not say the password must be changed"
# The first login, as a browser makes it: the login form, then the change-password form (antiforgery token, Origin).
jar="$work/cookies"
token() { curl -ks -b "$jar" -c "$jar" "$base$1" | sed -n 's/.*name="__RequestVerificationToken" value="\([^"]*\)".*/\1/p' | head -1; }
login=$(curl -ks -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' -H "Origin: $base" \
  --data-urlencode userName=admin --data-urlencode "password=$password" --data-urlencode returnUrl=/ \
  --data-urlencode "__RequestVerificationToken=$(token /account/login)" "$base/account/login")
[ "$login" = "302 $base/" ] || fail "login with the generated password answered '$login', expected a redirect to /"
chosen="Package-Check-$(date +%s)-Ok"
changed=$(curl -ks -b "$jar" -c "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' -H "Origin: $base" \
  --data-urlencode "current=$password" --data-urlencode "next=$chosen" \
  --data-urlencode "__RequestVerificationToken=$(token /account/password)" "$base/account/password")
[ "$changed" = "302 $base/account/password?done=true" ] || fail "changing the generated password answered '$changed'"
[ ! -e "$password_file" ] || fail "the generated password file is still there after the change"

# 7. /system over HTTPS (and over the loopback HTTP port scripts use), with the administrator's own password.
system=$(curl -ksf -u "admin:$chosen" "$base/system") || fail "GET $base/system with the new password failed"
echo "$system" | python3 -c "
import json, sys
s = json.load(sys.stdin)
assert s['DicomAet'] == '$aet' and s['DicomPort'] == $dicom_port, s
" || fail "/system does not describe the started server: $system"
curl -sf -u "admin:$chosen" "http://127.0.0.1:$http_port/system" >/dev/null || fail "GET /system over plain HTTP on loopback failed"
step "/system answers over HTTPS and HTTP"

# 8. A C-ECHO from DCMTK.
echoscu -to 10 -aet CHECK -aec "$aet" 127.0.0.1 "$dicom_port" > "$work/echo.log" 2>&1 \
  || { cat "$work/echo.log" >&2; fail "echoscu (C-ECHO to $aet at 127.0.0.1:$dicom_port) failed"; }
step "C-ECHO succeeded"

# 9. Stop as systemd would (SIGTERM), within the unit's TimeoutStopSec.
kill -TERM "$server_pid"
stop_deadline=$(( $(date +%s) + 60 ))
while kill -0 "$server_pid" 2>/dev/null; do
  [ "$(date +%s)" -lt "$stop_deadline" ] || fail "the server did not stop within 60 s of SIGTERM"
  sleep 0.2
done
wait "$server_pid" && exit_code=0 || exit_code=$?
server_pid=""
[ "$exit_code" = 0 ] || fail "the server exited with code $exit_code after SIGTERM"
step "stopped cleanly on SIGTERM"

# 10. Purge: nothing of it may be left.
dpkg --purge orthancweb > "$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
installed=false
left=()
getent passwd orthancweb >/dev/null && left+=("user orthancweb")
getent group orthancweb >/dev/null && left+=("group orthancweb")
for path in /opt/orthancweb /etc/orthancweb /var/lib/orthancweb "$unit" /etc/systemd/system/multi-user.target.wants/orthancweb.service; do
  [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
done
dpkg-statoverride --list /etc/orthancweb/appsettings.json >/dev/null 2>&1 && left+=("the statoverride of /etc/orthancweb/appsettings.json")
dpkg-query -W orthancweb >/dev/null 2>&1 && left+=("dpkg's record of orthancweb")
[ ${#left[@]} -eq 0 ] || fail "after dpkg --purge, still present: ${left[*]}"

step "OK: package installed, served /system and C-ECHO as orthancweb, purged without a trace ($(( $(date +%s) - started )) s in all)"
