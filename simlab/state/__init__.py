"""The live state of a lab, and what changed between two moments.

Owns: ``LabState`` and its parts (model.py, with the stable ``to_dict``),
``inspect_lab`` (collect.py: one exec per host, in parallel), ``diff_states``
(diff.py), ``StateRecorder`` (record.py: the state after every step of a run), where a
packet would go in a state (paths.py: route lookups hop by hop) and how a learner's lab
differs from a reference and why a probe fails (explain.py, for `simlab verify`).
May import: labs.lab, runs.script, events.py, model, errors.py, results.py;
never docker (the engine is reached through Lab).
"""

from simlab.state.collect import inspect_lab
from simlab.state.diff import Change, diff_states
from simlab.state.model import HostState, Interface, LabState, Namespace, Peer

__all__ = ["Change", "HostState", "Interface", "LabState", "Namespace", "Peer", "diff_states", "inspect_lab"]
