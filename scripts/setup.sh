#!/usr/bin/env bash
# Installs what dbtrail's tests need on a fresh Debian 12 machine, then the npm dependencies.
# Debian packages are installed only when missing, so the script is quick on a prepared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mariadb-server mariadb-client mariadb-backup mydumper age chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
