"""Docker engines: finding one, talking to it, naming several.

Owns: kind.py (Docker or Podman, rootful or rootless: read from the engine's answers),
limits.py and podman.py (what Podman needs asked another way: ulimits, read-only paths),
client.py (``Engine``: the only module that imports docker-py; every call has a
deadline and exec streams are read with deadlines of simlab's own), endpoint.py (the
engine the docker CLI would use: DOCKER_HOST, contexts, the default socket) and
named.py (engines as users name them for a batch: ``NAME[=SLOTS]``).
May import: errors.py and events.py only; nothing of labs, scenarios or images.
"""
