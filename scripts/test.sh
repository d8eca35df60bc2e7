#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite through CTest.
#   bash scripts/test.sh                      Release build: unit, integration and benchmark smoke tests
#   bash scripts/test.sh --preset asan-ubsan  the same suite under AddressSanitizer + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    *) echo "usage: $0 [--preset release|debug|asan-ubsan]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset"
