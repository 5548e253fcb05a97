"""Upstreams for the pull-through cache's tests, one of each per session: Distribution 2.8.2 without
auth, and dockyard in token mode with users (the Docker Hub flow). Each test module starts its own
fault proxies in front of them and its own dockyard servers pulling through those."""

from tests.remote.conftest import distribution, token_dockyard

__all__ = ["distribution", "token_dockyard"]
