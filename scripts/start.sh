#!/usr/bin/env bash
# Installs what is missing, builds HareMQ in Release and starts the broker on
# 127.0.0.1:5672 with its embedded defaults. Extra arguments go to the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

exec build/release/app/haremq --bind 127.0.0.1 --port 5672 "$@"
