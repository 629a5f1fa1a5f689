#!/usr/bin/env bash
# Writes the configuration an installed server reads (/etc/orthancweb/appsettings.json in the Debian package and the
# container image): the repository's appsettings.json, every setting with its comment, with the data folder a service
# keeps (/var/lib/orthancweb) and a header saying how it is installed. Derived at build time, so the installed file
# never falls behind the documented one; fails if the lines it rewrites have changed shape.
# Usage: packaging/make-config.sh SOURCE_APPSETTINGS OUTPUT "HEADER LINE"
set -euo pipefail
source=$1 output=$2 header=$3

data_line='"DataDirectory": "./data",'
header_line='// OrthancWeb configuration: the one file an administrator edits.'
for line in "$data_line" "$header_line"; do
  [ "$(grep -cF "$line" "$source")" = 1 ] || { echo "make-config: FATAL: $source no longer has the line: $line" >&2; exit 1; }
done
sed -e "s|$data_line|\"DataDirectory\": \"/var/lib/orthancweb\",   // the service's data folder (its user only, 0700)|" \
    -e "s|$header_line|// OrthancWeb configuration, $header|" \
    "$source" > "$output"
grep -q '"DataDirectory": "/var/lib/orthancweb"' "$output" || { echo "make-config: FATAL: DataDirectory not rewritten" >&2; exit 1; }
