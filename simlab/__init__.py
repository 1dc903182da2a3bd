"""simlab: container-orchestrated multi-host network labs, checked step by step."""

__version__ = "0.1.0"
