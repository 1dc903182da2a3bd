#!/usr/bin/env python3
"""The engine's own floor for bench/scale: N containers with a simlab host's options
created and started (up) or found by label and removed (down) through the Docker API,
8 at a time, no wiring at all.   floor.py up|down N PREFIX

The options are simlab's own (capabilities, security options, read-only paths, cgroup
namespace, sysctls), which bench/scale passes as JSON in FLOOR_HOST (so that this
process imports nothing but docker-py, as a bare script would)."""

import json
import os
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
            options = json.loads(os.environ["FLOOR_HOST"])
            host_config = api.create_host_config(
                network_mode="none", cap_add=options["cap_add"], cap_drop=options["cap_drop"],
                security_opt=options["security_opt"], cgroupns=options["cgroupns"], sysctls=options["sysctls"])
            host_config["ReadonlyPaths"] = options["readonly_paths"]

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
