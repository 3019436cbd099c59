#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetch and unpack a Debian source package into build/src/<pkg> (cached),
# so the fuzz flavour can compile a runtime library with its own
# instrumentation. Enables deb-src for Debian's own archive if missing.
#   tests/fuzz/fetch-src.sh protobuf-c
set -eu
pkg=$1
out=build/src/$pkg
[ -f "$out/.stamp" ] && exit 0
if ! grep -rqs '^Types: deb-src\|^deb-src ' /etc/apt/sources.list \
    /etc/apt/sources.list.d/; then
	cat > /etc/apt/sources.list.d/kiln-debian-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $(. /etc/os-release && echo "$VERSION_CODENAME")
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
fi
rm -rf "$out" && mkdir -p "$out.dl"
(cd "$out.dl" && apt-get source -qq --download-only "$pkg" >/dev/null 2>&1)
mkdir -p "$out"
tar -xf "$out.dl"/"$pkg"_*.orig.tar.* -C "$out" --strip-components=1
rm -rf "$out.dl"
touch "$out/.stamp"
