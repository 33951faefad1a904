#!/bin/sh
# Builds and runs the Rust program over ptlib's C API (cargo, no crates, offline).
# Usage: run.sh <crate dir> <cargo target dir> <meson build root>. Exit 77 (skipped) without cargo.
set -eu
crate=$1
target=$2
build=$3
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: the Rust FFI test is skipped (install Rust to run it)"
  exit 77
fi
export PTLIB_BUILD_DIR="$build"
exec cargo run --offline --quiet --manifest-path "$crate/Cargo.toml" --target-dir "$target"
