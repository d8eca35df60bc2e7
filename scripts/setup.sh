#!/usr/bin/env bash
# Installs every Debian package HareMQ needs to build, test and benchmark; does nothing
# when all are present. Idempotent, non-interactive; needs root (apt-get) only to install.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev
  liburing-dev libmimalloc-dev libconcurrentqueue-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libxxhash-dev
  libcpp-httplib-dev libssl-dev
  python3 python3-pika librabbitmq-dev python3-prometheus-client
  rabbitmq-server chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: installing packages needs root; run: sudo bash scripts/setup.sh" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
