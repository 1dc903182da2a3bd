#!/usr/bin/env bash
# Make sure the programs the tests drive as a person would are there:
#   chromium  the HTML report opened in a real browser (tests/reports/test_visuals_lab.py)
#   tmux      `simlab tutorial` typed into a real terminal (tests/runs/test_tutorial_lab.py)
#   tshark    pcaps that simlab writes, read by Wireshark's own dissectors
#
# Each is looked up by command; where one is missing and this is Debian/Ubuntu as
# root (a CI machine) it is installed from the distribution's packages. Nothing is
# ever downloaded at test time. Anywhere else the script says what to install.
set -euo pipefail

# command(s)|Debian package
TOOLS=("chromium chromium-browser|chromium" "tmux|tmux" "tshark|tshark")

missing=()
for tool in "${TOOLS[@]}"; do
  commands=${tool%%|*}; package=${tool##*|}
  found=""
  for name in $commands; do
    if command -v "$name" >/dev/null; then found=$name; break; fi
  done
  if [ -z "$found" ]; then missing+=("$package"); fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "tools: chromium, tmux and tshark are there; nothing to do"
  exit 0
fi

if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "tools: the tests need ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "tools: installing Debian's ${missing[*]} (for the tests that use them as a person would)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
