#!/usr/bin/env bash
# Installs the build and test dependencies from Debian 12 packages (only what is missing).
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config
          libtorch-dev libboost-dev libtomlplusplus-dev libspdlog-dev libopencv-dev catch2
          nlohmann-json3-dev libpng-dev zlib1g-dev
          libcpp-httplib-dev libhiredis-dev redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
