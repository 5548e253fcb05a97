"""Runs last in this directory: the clients left the machine's own container configuration and
state (/etc/containers, /var/lib/containers, containerd's directories, ...) as they found them."""

from __future__ import annotations

import pytest
from tests.interop.clients import HostState, host_state

pytestmark = pytest.mark.interop


def test_host_container_config_untouched(host_before: HostState, tools_present: None) -> None:
    after = host_state()
    changed = {}
    for top, before in host_before.items():
        if before == after[top]:
            continue
        old = {entry[0]: entry for entry in before or ()}
        new = {entry[0]: entry for entry in after[top] or ()}
        changed[top] = {
            "created" if before is None else "now": after[top] is not None,
            "added": sorted(set(new) - set(old))[:10],
            "removed": sorted(set(old) - set(new))[:10],
            "modified": sorted(p for p in set(old) & set(new) if old[p] != new[p])[:10],
        }
    assert not changed, f"the interop suite changed the machine's container setup: {changed}"
