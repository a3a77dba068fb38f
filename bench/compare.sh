#!/usr/bin/env bash
# Compares pmem with PMDK's libpmemobj, with libpmemobj++'s containers and with the hardware
# floor, end to end: installs gcc, g++ and PMDK where missing (Debian), builds pmem-bench,
# the `compare` driver, shared/baselines/pmdk/pmdk_bench.c,
# shared/baselines/pmdkxx/pmdkxx_bench.cpp (against the libpmemobj++ headers in its tarball,
# unpacked into the target directory) and shared/baselines/limit/limit.c, then runs
# target/release/compare with this script's arguments (`target/release/compare --help`).
# Without shared/baselines/pmdkxx, the collections table has pmem's figures alone.
#
#   bash bench/compare.sh                                              # full run: docs/benchmarks/
#   bash bench/compare.sh --rounds 1 --ops-scale 0.01 --out /tmp/smoke  # smoke run
#
# Environment: BASELINES_DIR (default: ../shared/baselines beside the workspace),
# CARGO_TARGET_DIR (as cargo).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
baselines=${BASELINES_DIR:-$root/../shared/baselines}
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac

say() { printf '# %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

for source in "$baselines/pmdk/pmdk_bench.c" "$baselines/limit/limit.c"; do
    [ -f "$source" ] || die "missing $source (set BASELINES_DIR to the shared/baselines folder)"
done

pmdkxx=$baselines/pmdkxx
if [ -f "$pmdkxx/pmdkxx_bench.cpp" ] && [ -f "$pmdkxx/libpmemobj-cpp-include.tar.gz" ]; then
    has_pmdkxx=1
else
    has_pmdkxx=
    say "no libpmemobj++ harness in $pmdkxx: the collections are measured for pmem alone"
fi

has_header() { [ -e "/usr/include/$1" ] || [ -e "/usr/local/include/$1" ]; }
has_library() {
    { command -v pkg-config >/dev/null && pkg-config --exists "$1"; } || has_header "$1.h"
}

missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
[ -z "$has_pmdkxx" ] || command -v g++ >/dev/null || missing+=(g++)
has_library libpmemobj || missing+=(libpmemobj-dev)
has_library libpmem || missing+=(libpmem-dev)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
        sudo=(sudo)
    fi
    say "installing ${missing[*]}"
    # A fresh machine may have no package lists yet.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

cd "$root"
say "building pmem-bench and compare"
cargo build --release -p pmem-bench --bins

say "building the baselines into $target/baselines"
mkdir -p "$target/baselines"
gcc -O2 -Wall -o "$target/baselines/pmdk_bench" "$baselines/pmdk/pmdk_bench.c" -lpmemobj -lpmem
gcc -O2 -Wall -o "$target/baselines/limit" "$baselines/limit/limit.c"
# A harness left by an earlier build would be measured as if it were this one.
rm -f "$target/baselines/pmdkxx_bench"
if [ -n "$has_pmdkxx" ]; then
    rm -rf "$target/baselines/pmdkxx"
    mkdir -p "$target/baselines/pmdkxx"
    tar xzf "$pmdkxx/libpmemobj-cpp-include.tar.gz" -C "$target/baselines/pmdkxx"
    g++ -O2 -std=c++17 -I "$target/baselines/pmdkxx/include" \
        -o "$target/baselines/pmdkxx_bench" "$pmdkxx/pmdkxx_bench.cpp" \
        -lpmemobj -lpmem -lpthread
fi

# The paths go first so that the caller's arguments can still override them.
exec "$target/release/compare" \
    --pmem "$target/release/pmem-bench" \
    --pmdk "$target/baselines/pmdk_bench" \
    --pmdkxx "$target/baselines/pmdkxx_bench" \
    --limit "$target/baselines/limit" \
    "$@"
