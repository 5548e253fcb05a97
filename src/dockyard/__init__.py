"""dockyard: a container registry implementing the OCI Distribution Specification v1.1."""

__version__ = "0.1.0"
