#!/usr/bin/env bash
# Fetch one Debian 12 (bookworm) binary package for any architecture and unpack it, for the tests
# that run ptlib against what Debian ships (board device trees, kernels, busybox).
#
#   tests/debian/fetch.sh ARCH PACKAGE   -> prints the directory the package is unpacked in
#
# ARCH is a Debian architecture (amd64, arm64, armhf, i386). A kernel metapackage
# (linux-image-arm64) is followed to the versioned package it depends on. apt reads the
# machine's own sources but keeps its package lists and downloads in a private cache
# (PTLIB_DEBIAN_CACHE, default ~/.cache/ptlib-debian), so the system's apt state and
# architectures are never changed. Nothing is downloaded twice.
#
# Exit 77 (meson's "skipped") with a message on stderr when the package cannot be had: no apt,
# no network, or PTLIB_OFFLINE=1.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 ARCH PACKAGE" >&2; exit 2; }
arch=$1 pkg=$2
skip() { echo "skipped: $*" >&2; exit 77; }
[ "${PTLIB_OFFLINE:-0}" = 1 ] && skip "PTLIB_OFFLINE=1"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || skip "needs apt-get and dpkg-deb (Debian)"

cache=${PTLIB_DEBIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ptlib-debian}
apt_dir=$cache/apt-$arch
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/debs" "$cache/unpacked"
exec 9>"$cache/lock-$arch"
flock 9   # tests run in parallel: one fetch per architecture at a time

opts=(-q -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Debug::NoLocking=1"
      -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
      -o "Dir::Cache::pkgcache=pkgcache.bin" -o "Dir::Cache::srcpkgcache=srcpkgcache.bin")
# (The binary caches are kept, although Debian's container images turn them off: each apt-cache
# call then takes 0.03 s instead of 1 s of rebuilding them. apt rebuilds them when a list changes.)
# Refresh the private package lists once a day.
stamp=$apt_dir/updated
if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
  apt-get "${opts[@]}" update >"$apt_dir/update.log" 2>&1 || skip "apt-get update failed (offline?), see $apt_dir/update.log"
  touch "$stamp"
fi

real=$pkg
dep=$(apt-cache "${opts[@]}" depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$dep" ] && real=$dep
ver=$(apt-cache "${opts[@]}" policy "$real" 2>/dev/null | awk '/Candidate:/ {print $2}')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || skip "no package $real for $arch in the configured sources"

out=$cache/unpacked/${real}_${ver//:/%3a}_$arch
if [ ! -e "$out/.done" ]; then
  (cd "$cache/debs" && apt-get "${opts[@]}" download "$real:$arch=$ver" >"$apt_dir/download.log" 2>&1) ||
    skip "apt-get download $real:$arch failed, see $apt_dir/download.log"
  deb=$(ls -t "$cache/debs/${real}_"*"_$arch.deb" | head -1)
  rm -rf "$out" && mkdir -p "$out"
  dpkg-deb -x "$deb" "$out"
  rm -f "$deb"
  touch "$out/.done"
fi
echo "$out"
