#!/usr/bin/env bash
# Make sure a headless browser is there for the HTML report tests
# (tests/test_visuals_lab.py opens the report in Debian's `chromium`).
#
# Where chromium (or chromium-browser) is installed, this does nothing. Where it
# is missing and this is Debian/Ubuntu as root (a CI machine), it installs
# Debian's chromium package; no browser is ever downloaded at test time.
# Anywhere else it says what to install.
set -euo pipefail

for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null; then
    echo "browser: $(command -v "$name") is there; nothing to do"
    exit 0
  fi
done

if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser: the HTML report tests need chromium; install it (Debian/Ubuntu: apt-get install chromium)" >&2
  exit 1
fi

echo "browser: installing Debian's chromium (for the HTML report tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
command -v chromium
