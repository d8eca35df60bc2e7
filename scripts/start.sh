#!/usr/bin/env bash
# Installs what is missing, builds HareMQ in Release and starts the broker on
# 127.0.0.1:5672 with its embedded defaults. Extra arguments go to the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

broker=build/release/app/haremq
if [ -x "$broker" ]; then
  exec "$broker" --bind 127.0.0.1 --port 5672 "$@"
fi
echo "start: built the codec, its tests and benchmarks; the broker executable (app/haremq) is not in this tree yet."
echo "start: run the codec benchmarks with: build/release/net/amqp/codec_bench"
