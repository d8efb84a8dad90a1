#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL + PostGIS (history store tests) and Chromium
# (dashboard browser tests, with a CJK font), Mosquitto (device gateways). Installs only what is missing; quick when everything is present.
set -euo pipefail

missing=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
  missing+=(postgresql)
fi
pg_major=$(basename "$(dirname "${pg_bin:-/usr/lib/postgresql/15/bin}")")
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  missing+=("postgresql-${pg_major}-postgis-3")
fi
if ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
if ! command -v mosquitto >/dev/null 2>&1 && [[ ! -x /usr/sbin/mosquitto ]]; then
  missing+=(mosquitto)  # MQTT broker for the device-gateway tests (started by the tests)
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libcrypto\.so\.3 '; then
  missing+=(libssl3)  # OpenSSL 3 libcrypto: native SM2 (security/_openssl.py binds it with ctypes)
fi
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  missing+=(fonts-wqy-zenhei)  # a CJK font: the console's Chinese labels in browser screenshots
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "system-deps: missing ${missing[*]} and not root: install them with apt-get" >&2
    exit 0  # the tests that need them skip and say why
  fi
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
