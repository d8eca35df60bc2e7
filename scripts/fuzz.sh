#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time.
#   bash scripts/fuzz.sh [--seconds N]   (default 30 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

corpus_root=build/fuzz/corpus
for target in build/fuzz/tests/fuzz/*_fuzz; do
  name=$(basename "$target")
  mkdir -p "$corpus_root/$name"
  # Seed every target with the wire captures so it starts from real traffic.
  cp -n tests/data/*.bin "$corpus_root/$name/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  mkdir -p build/fuzz/artifacts
  "$target" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/artifacts/ "$corpus_root/$name" > "build/fuzz/$name.log" 2>&1 || {
    tail -n 40 "build/fuzz/$name.log"
    echo "fuzz: $name found a crash (artifact in build/fuzz/artifacts/)" >&2
    exit 1
  }
  tail -n 6 "build/fuzz/$name.log"
done
echo "fuzz: all targets ran ${seconds}s without a crash"
