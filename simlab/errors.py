"""The errors simlab reports to its user, each with the exit code it means."""


class SimlabError(Exception):
    """An error with a message written for the user; no traceback is shown."""

    exit_code = 2


class InputError(SimlabError):
    """A file, name or option the user gave is wrong."""


class EngineError(SimlabError):
    """The Docker engine is missing, refused something, or failed."""


class Cancelled(SimlabError):
    """The run was stopped from outside (a timeout, --fail-fast, Ctrl-C in a batch)."""


class PrivilegedRefused(EngineError):
    """The engine does not allow privileged containers (its caller knows the alternative)."""


class EngineTimeout(EngineError):
    """An engine call did not answer within its deadline."""


class NameTaken(InputError):
    """A lab name (one of its container names) is held by another run."""
