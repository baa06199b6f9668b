#!/usr/bin/env bash
# Installs Debian's tmux for the terminal tests of the shell when it is missing, and prints its path.
# The tests run as root on Debian; elsewhere install tmux by hand.
set -euo pipefail
if ! command -v tmux >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends tmux >&2
fi
command -v tmux
