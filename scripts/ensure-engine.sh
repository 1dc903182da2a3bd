#!/usr/bin/env bash
# Make sure a Docker engine answers, the way simlab will look for it
# (DOCKER_HOST, the current docker context, the default socket).
#
# Where an engine answers, this changes nothing and installs nothing.
# Where none does and this is Debian/Ubuntu as root (a CI machine, a fresh
# VM), it installs Debian's docker.io (and debootstrap, which simlab uses to
# make a base image where no registry can be reached), starts dockerd in the
# background and waits until it answers. Anywhere else it says what to do.
set -euo pipefail

PYTHON=${1:-python3}
LOG=${SIMLAB_DOCKERD_LOG:-/var/log/simlab-dockerd.log}

answers() {
  "$PYTHON" - <<'PY' >/dev/null 2>&1
import docker
docker.from_env(timeout=5).ping()
PY
}

if answers; then
  echo "engine: a Docker engine answers; nothing to do"
  exit 0
fi

if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "engine: no Docker engine answers. Start Docker Desktop (macOS) or dockerd, or set" >&2
  echo "        DOCKER_HOST / 'docker context use' to reach one; then run this again." >&2
  exit 1
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "engine: installing ${missing[*]} (Debian packages)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "engine: starting dockerd in the background (log: $LOG)"
mkdir -p "$(dirname "$LOG")"
setsid nohup dockerd >"$LOG" 2>&1 < /dev/null &

for _ in $(seq 1 60); do
  if answers; then
    echo "engine: dockerd answers"
    exit 0
  fi
  sleep 1
done
echo "engine: dockerd did not answer within 60 s; the end of its log:" >&2
tail -n 20 "$LOG" >&2
exit 1
