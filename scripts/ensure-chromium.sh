#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing, and prints its path.
# The tests run as root on Debian; elsewhere install chromium by hand (or set CHROMIUM_PATH).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
command -v chromium
