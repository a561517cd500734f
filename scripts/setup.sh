#!/usr/bin/env bash
# Installs what dbtrail's tests need on a fresh Debian 12 machine, then the npm dependencies.
# Debian packages are installed only when missing, so the script is quick on a prepared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(mariadb-server mariadb-client mariadb-backup mydumper age chromium jq)
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

# The PostgreSQL backend's tests use the machine's PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth for
# local TCP, as this machine kind is set up); start its cluster when it is installed but stopped.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _port status _rest; do
    if [ "$status" != "online" ]; then
      echo "setup: starting PostgreSQL cluster $version/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start || true
    fi
  done
fi

npm ci --no-audit --no-fund
