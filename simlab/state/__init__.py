"""The live state of a lab, and what changed between two moments.

Owns: ``LabState`` and its parts (model.py, with the stable ``to_dict``),
``inspect_lab`` (collect.py: one exec per host, in parallel), ``diff_states``
(diff.py) and ``StateRecorder`` (record.py: the state after every step of a run).
May import: labs.lab, runs.script, events.py, model, errors.py, results.py;
never docker (the engine is reached through Lab).
"""

from simlab.state.collect import inspect_lab
from simlab.state.diff import Change, diff_states
from simlab.state.model import HostState, Interface, LabState, Namespace, Peer

__all__ = ["Change", "HostState", "Interface", "LabState", "Namespace", "Peer", "diff_states", "inspect_lab"]
