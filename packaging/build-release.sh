#!/usr/bin/env bash
# Builds the release artifacts in one command:
#   <out>/orthancweb-<version>-linux-x64/   self-contained publish folder (ReadyToRun, as the csproj publishes; no .NET
#                                           needed on the target), with the OHIF viewer in ohif/
#   <out>/orthancweb_<version>_amd64.deb    Debian package: server in /opt/orthancweb, configuration in /etc/orthancweb
#                                           (a conffile: upgrades keep an admin's edits), data in /var/lib/orthancweb
#                                           (system user orthancweb, 0700), systemd unit orthancweb.service
#   <out>/SHA256SUMS
#
# Usage: packaging/build-release.sh [--out DIR] [--version VERSION] [--compression xz|zstd|gzip|none] [--without-ohif]
#   --out          default: artifacts/ at the root of the clone (git-ignored)
#   --version      default: 0.1.0~git<commit date>.<commit> (".dirty" appended when the tree has uncommitted changes)
#   --compression  of the .deb's data; default xz (every dpkg reads it; zstd needs dpkg 1.21.18+, Debian 12)
#   --without-ohif accept a build whose OHIF bundle could not be fetched (the server then runs without OHIF)
# Needs: the .NET 10 SDK (with NuGet reachable, for the linux-x64 runtime packs), npm (OHIF, fetched once), dpkg-deb.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/artifacts"
version=""
compression=xz
with_ohif=true
base_version=0.1.0

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --compression) compression=$2; shift 2 ;;
    --without-ohif) with_ohif=false; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-release: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "build-release: FATAL: $*" >&2; exit 1; }
command -v dotnet >/dev/null || fail "dotnet (the .NET 10 SDK) is not on PATH"
command -v dpkg-deb >/dev/null || fail "dpkg-deb is not on PATH (apt-get install dpkg)"

if [ -z "$version" ]; then
  commit=$(git -C "$root" rev-parse --short=7 HEAD 2>/dev/null) || fail "not a git clone: give --version"
  date=$(git -C "$root" log -1 --format=%cd --date=format:%Y%m%d)
  version="$base_version~git$date.$commit"
  [ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || version="$version.dirty"
fi
# Debian policy 5.6.12: upstream version starts with a digit and uses only alphanumerics and . + - ~
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || fail "version '$version' is not a valid Debian version"

mkdir -p "$out"
out=$(cd "$out" && pwd)
publish="$out/orthancweb-$version-linux-x64"
deb="$out/orthancweb_${version}_amd64.deb"
stage=$(mktemp -d "$out/.deb-root.XXXXXX")
trap 'rm -rf "$stage"' EXIT

echo "== publish (Release, self-contained linux-x64, ReadyToRun) -> $publish"
rm -rf "$publish"
dotnet publish "$root/OrthancWeb/OrthancWeb.csproj" -c Release -r linux-x64 --self-contained true \
  -p:Version="${version%%[~+]*}" -p:InformationalVersion="$version" -o "$publish" -nologo -v:q \
  || fail "dotnet publish failed"
[ -x "$publish/OrthancWeb" ] || fail "the publish has no OrthancWeb executable"
grep -q '"Microsoft.NETCore.App"' "$publish/OrthancWeb.runtimeconfig.json" && grep -q includedFrameworks "$publish/OrthancWeb.runtimeconfig.json" \
  || fail "the publish is not self-contained (no includedFrameworks in OrthancWeb.runtimeconfig.json)"
if [ ! -f "$publish/ohif/index.html" ]; then
  $with_ohif && fail "the publish has no OHIF viewer (ohif/index.html): the build could not fetch @ohif/app (see its OHIF001 warning); --without-ohif accepts that"
  echo "build-release: warning: no OHIF viewer in this build (--without-ohif)" >&2
fi

echo "== stage the package"
umask 022
install -d "$stage/DEBIAN" "$stage/opt" "$stage/etc/orthancweb" "$stage/usr/lib/systemd/system" "$stage/usr/share/doc/orthancweb"
cp -a "$publish" "$stage/opt/orthancweb"
find "$stage/opt/orthancweb" -type d -exec chmod 0755 {} + 
find "$stage/opt/orthancweb" -type f -exec chmod 0644 {} +
chmod 0755 "$stage/opt/orthancweb/OrthancWeb" "$stage/opt/orthancweb/createdump"

# The configuration: the repository's appsettings.json (every setting, commented) with the service's data folder.
config="$stage/etc/orthancweb/appsettings.json"
"$root/packaging/make-config.sh" "$root/appsettings.json" "$config" \
  'installed by the orthancweb package: edit it, then `systemctl restart orthancweb`.\n  // Upgrades keep your edits (dpkg asks when the packaged file changed too); dpkg --purge deletes the data folder.' \
  || fail "could not write the configuration"
chmod 0644 "$config"  # the postinst's statoverride makes it root:orthancweb 0640

install -m 0644 "$root/packaging/orthancweb.service" "$stage/usr/lib/systemd/system/orthancweb.service"
cat > "$stage/usr/share/doc/orthancweb/README.Debian" <<'EOF'
OrthancWeb as a Debian package
==============================

Server:         /opt/orthancweb (self-contained .NET; /opt/orthancweb/OrthancWeb --config <file>)
Configuration:  /etc/orthancweb/appsettings.json (root:orthancweb 0640, a conffile)
                /etc/orthancweb/environment (optional, KEY=value, e.g. OrthancWeb__IndexConnectionString=...)
Data:           /var/lib/orthancweb (user orthancweb, 0700): db/, storage/, certs/, keys/
Service:        systemctl status|restart orthancweb; journalctl -u orthancweb

First login: https://<host>:8443/ as admin, with the password in /var/lib/orthancweb/admin-password.txt
(sudo cat it); the server asks for a new one and then deletes the file.

`apt remove orthancweb` keeps the configuration, the data and the user; `apt purge orthancweb` deletes all three.
EOF

install -m 0755 "$root/packaging/debian/postinst" "$root/packaging/debian/prerm" "$root/packaging/debian/postrm" "$stage/DEBIAN/"
echo /etc/orthancweb/appsettings.json > "$stage/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@INSTALLED_SIZE@|$installed_size|" "$root/packaging/debian/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find opt usr -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)

echo "== dpkg-deb ($compression) -> $deb"
rm -f "$deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null || fail "dpkg-deb --build failed"
(cd "$out" && sha256sum "$(basename "$deb")" > SHA256SUMS)

echo "publish folder: $publish ($(du -sh "$publish" | cut -f1))"
echo "package:        $deb ($(du -h "$deb" | cut -f1), installed $((installed_size / 1024)) MB)"
