"""What kind of engine answers: Docker or Podman, rootful or rootless, user-namespace remapped.

Read from the Docker API's answers (/version's Components, /info's SecurityOptions) and,
for Podman, from its own API (/libpod/info's host.security.rootless): Podman's
Docker-compatible /info lists only ``name=seccomp`` even when it runs rootless. Pure
functions over those answers; ``Engine.kind`` asks the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCKER, PODMAN = "docker", "podman"
PODMAN_COMPONENT = "Podman Engine"
LIBPOD_INFO = "/v4.0.0/libpod/info"  # any 4.x or later Podman serves it under this version

# What each way of isolating container root means for --untrusted (README, Security).
ISOLATING = {"userns": "user-namespace remapped (userns-remap)", "rootless": "rootless"}


@dataclass(frozen=True)
class EngineKind:
    """The product behind the Docker API and how it runs containers."""

    product: str  # DOCKER or PODMAN
    rootless: bool = False
    userns_remap: bool = False

    @property
    def isolation(self) -> str | None:
        """How container root is kept from the engine host's root ('rootless', 'userns'); None: it is not."""
        if self.rootless:
            return "rootless"
        return "userns" if self.userns_remap else None

    def mode(self) -> str:
        """'rootless', 'rootful' or 'rootful, userns-remapped'."""
        remapped = ["userns-remapped"] if self.userns_remap else []
        return ", ".join(["rootless" if self.rootless else "rootful", *remapped])

    def describe(self) -> str:
        """'podman, rootless', 'docker, rootful, userns-remapped'..."""
        return f"{self.product}, {self.mode()}"

    def untrusted_meaning(self) -> str:
        """What this kind means for --untrusted, in a sentence."""
        if self.isolation is None:
            return "--untrusted refused: container root is the engine host's root"
        return (f"--untrusted accepted: container root is an unprivileged user on the engine host "
                f"({ISOLATING[self.isolation]})")


def isolation_from_security_options(security_options: list[str]) -> str | None:
    """'userns' or 'rootless' from Docker's /info SecurityOptions ('name=userns',
    'name=seccomp,profile=default', ...); None if neither is there."""
    names = {part[5:] for opt in security_options for part in opt.split(",") if part.startswith("name=")}
    return next((name for name in ISOLATING if name in names), None)


def is_podman(version: dict) -> bool:
    """Whether /version's answer comes from Podman (its Components name 'Podman Engine')."""
    return any(c.get("Name") == PODMAN_COMPONENT for c in version.get("Components") or [])


def detect(version: dict, security_options: list[str], libpod_info: dict | None = None) -> EngineKind:
    """The engine's kind from /version, /info's SecurityOptions and (Podman) /libpod/info."""
    docker_says = isolation_from_security_options(security_options)
    if is_podman(version):
        rootless = bool(((libpod_info or {}).get("host") or {}).get("security", {}).get("rootless"))
        return EngineKind(PODMAN, rootless=rootless or docker_says == "rootless")
    return EngineKind(DOCKER, rootless=docker_says == "rootless", userns_remap=docker_says == "userns")
