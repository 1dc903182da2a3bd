"""Defaults that the core and the command line's help share, in a module that imports
nothing heavy, so that `simlab --help` can show them without loading the core."""

from __future__ import annotations

import os

DEFAULT_IMAGE = "ubuntu_with_basic_net"  # the hosts' image, built by `simlab image build`
DEFAULT_BASE = "ubuntu:24.04"  # its Dockerfile's FROM
DEFAULT_STEP_TIMEOUT = 60.0  # seconds a step may take unless it says otherwise (key `timeout`)


def default_jobs() -> int:
    """Labs spend most of their time waiting on the engine and on pings: two per core."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))
