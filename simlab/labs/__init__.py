"""Running labs: sealed containers, the wires between them, and the images they need.

Owns: lab.py (start, find by label, remove), fabric.py (the wiring plan and the helper
that builds it on the engine's kernel; fabric_agent.py and sysfs_agent.py run inside
that helper and import only the standard library and pyroute2), security.py (the host
options of each mode, isolation checks), images.py (the host and helper images) and
readiness.py (whether an engine can hold labs; getting it ready); capture.py
(`simlab capture`: tcpdump on a live lab's interfaces, streamed out) and pcap.py (pcap
streams read, pcap and pcapng written).
May import: engines, model, errors, events, resources; never runs, checks or reports.
"""
