#!/usr/bin/env python3
"""The engine's own floor for bench/scale: N containers with a simlab host's options
created and started (up) or found by label and removed (down) through the Docker API,
8 at a time, no wiring at all.   floor.py up|down N PREFIX"""

import sys
from concurrent.futures import ThreadPoolExecutor

import docker

IMAGE = "ubuntu_with_basic_net"


def main() -> None:
    action, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    api = docker.APIClient(base_url=docker.utils.kwargs_from_env().get("base_url", "unix:///var/run/docker.sock"),
                           timeout=300)
    with ThreadPoolExecutor(8) as pool:
        if action == "up":
            host_config = api.create_host_config(
                network_mode="none", cap_add=["NET_ADMIN", "NET_RAW", "SYS_ADMIN"],
                security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                sysctls={"net.ipv4.ip_forward": "0"})
            host_config["MaskedPaths"], host_config["ReadonlyPaths"] = [], []

            def up(i: int) -> None:
                name = f"{prefix}-h{i}"
                created = api.create_container(IMAGE, ["sleep", "infinity"], name=name, hostname=name,
                                               labels={"simlab.bench": prefix}, host_config=host_config)
                api.start(created["Id"])
            list(pool.map(up, range(n)))
        else:
            found = api.containers(all=True, filters={"label": f"simlab.bench={prefix}"})
            list(pool.map(lambda c: api.remove_container(c["Id"], force=True, v=True), found))


if __name__ == "__main__":
    main()
