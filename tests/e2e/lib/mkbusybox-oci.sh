#!/bin/bash
# tests/e2e/lib/mkbusybox-oci.sh -- build a deterministic busybox OCI image layout tar
# for `ctr images import`, without a registry.
#
# Usage: tests/e2e/lib/mkbusybox-oci.sh OUT.tar [REF]
#   REF  image reference stored in index.json's io.containerd.image.name
#        annotation (default docker.io/kiln/busybox:latest)
#
# The tar holds oci-layout, index.json and blobs/sha256/{manifest,config,layer}.
# The single gzip layer is the tree from busybox-tree.sh; config is amd64/linux,
# Cmd ["sh"], Env PATH. Fixed mtimes (SOURCE_DATE_EPOCH, default 0), sorted
# entries, root ownership and `gzip -n` make two builds byte-identical.
#
# For other images (mkpause-oci.sh): KILN_OCI_ROOTFS=DIR packs DIR instead of
# the busybox tree, KILN_OCI_CONFIG=JSON replaces the config's "config" object.
set -euo pipefail

readonly DEFAULT_REF=docker.io/kiln/busybox:latest
readonly MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
readonly MT_CONFIG=application/vnd.oci.image.config.v1+json
readonly MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
readonly MT_INDEX=application/vnd.oci.image.index.v1+json
readonly EPOCH=${SOURCE_DATE_EPOCH:-0}
WORK=

die() {
	echo "mkbusybox-oci: $*" >&2
	exit 1
}

cleanup() {
	if [[ -n $WORK ]]; then rm -rf -- "$WORK"; fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# Deterministic tar of the entries under DIR (relative names, sorted, no "./").
det_tar() {
	local dir=$1
	(cd "$dir" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
		tar --null --no-recursion -T - --format=gnu --numeric-owner \
			--owner=0 --group=0 --mtime="@$EPOCH" -cf -)
}

# Move FILE into the blob store; print its digest.
add_blob() {
	local file=$1 digest
	digest=$(sha "$file")
	mv -- "$file" "$WORK/layout/blobs/sha256/$digest"
	echo "$digest"
}

descriptor() { # MEDIATYPE DIGEST SIZE
	printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$1" "$2" "$3"
}

build_layer() {
	local tree=$WORK/rootfs
	if [[ -n ${KILN_OCI_ROOTFS:-} ]]; then
		tree=$KILN_OCI_ROOTFS
	else
		# shellcheck source=SCRIPTDIR/busybox-tree.sh
		source "$(dirname -- "${BASH_SOURCE[0]}")/busybox-tree.sh"
		kiln_busybox_tree "$tree" || exit 1
	fi
	find "$tree" -exec touch -h -d "@$EPOCH" {} +
	det_tar "$tree" >"$WORK/layer.tar"
	gzip -n -9 <"$WORK/layer.tar" >"$WORK/layer.tar.gz"
}

build_layout() {
	local ref=$1 tag diff_id layer layer_size config config_size manifest manifest_size
	tag=${ref##*/}
	[[ $tag == *:* ]] && tag=${tag##*:} || tag=latest
	mkdir -p "$WORK/layout/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$WORK/layout/oci-layout"

	diff_id=$(sha "$WORK/layer.tar")
	layer_size=$(size "$WORK/layer.tar.gz")
	layer=$(add_blob "$WORK/layer.tar.gz")

	local cfg=${KILN_OCI_CONFIG:-'{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}'}
	printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$cfg" "$diff_id" >"$WORK/config.json"
	config_size=$(size "$WORK/config.json")
	config=$(add_blob "$WORK/config.json")

	printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' "$MT_MANIFEST" \
		"$(descriptor "$MT_CONFIG" "$config" "$config_size")" \
		"$(descriptor "$MT_LAYER" "$layer" "$layer_size")" >"$WORK/manifest.json"
	manifest_size=$(size "$WORK/manifest.json")
	manifest=$(add_blob "$WORK/manifest.json")

	printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
		"$MT_INDEX" "$MT_MANIFEST" "$manifest" "$manifest_size" "$ref" "$tag" >"$WORK/layout/index.json"
	find "$WORK/layout" -type d -exec chmod 0755 {} +
	find "$WORK/layout" -type f -exec chmod 0644 {} +
	find "$WORK/layout" -exec touch -h -d "@$EPOCH" {} +
}

main() {
	[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 OUT.tar [REF]"
	local out=$1 ref=${2:-$DEFAULT_REF}
	[[ $ref =~ ^[A-Za-z0-9._/:@-]+$ ]] || die "bad image reference: $ref"
	trap cleanup EXIT
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-oci.XXXXXX")
	build_layer
	build_layout "$ref"
	det_tar "$WORK/layout" >"$out.tmp"
	mv -f -- "$out.tmp" "$out"
}

main "$@"
