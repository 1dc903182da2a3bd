"""Container options that Podman's Docker-compatible API takes another way.

Podman ignores HostConfig.ReadonlyPaths: its containers get its own read-only /proc
paths whatever is asked, so /proc/sys stays read-only and `sysctl -w net.*` fails. The
same intent is said with its security options instead: ``unmask`` the defaults the
spec leaves writable, ``mask`` the spec's paths Podman does not cover. A masked path is
hidden (an empty read-only mount), not only read-only: stricter than Docker, never looser.
"""

from __future__ import annotations

# Podman's read-only /proc paths (containers/common, the same in 4.x).
PODMAN_READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def readonly_as_security_opt(readonly_paths: list[str]) -> list[str]:
    """Podman security options that make ``readonly_paths`` the read-only (or hidden) ones."""
    unmask = [path for path in PODMAN_READONLY if path not in readonly_paths]
    mask = [path for path in readonly_paths if path not in PODMAN_READONLY]
    return ([f"unmask={':'.join(unmask)}"] if unmask else []) + ([f"mask={':'.join(mask)}"] if mask else [])
