"""Who the client is: the connection's peer, or, when the peer is a trusted reverse proxy, the address
the proxies name in X-Forwarded-For.

Each proxy appends the address it received the request from, so the list is read from the right:
the first address that is not itself a trusted proxy is the client. Anything left of it was written
by the client and is never believed; neither is the header when the peer is not trusted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """An IP address, also as `HOST:PORT` or `[V6]:PORT`; None when it is none."""
    text = text.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def host_of(client: str) -> str:
    """The host part of a client address (`HOST:PORT`, `[V6]:PORT`, or a bare address)."""
    address = parse_address(client)
    return str(address) if address is not None else client


class ClientAddresses:
    def __init__(self, trusted_proxies: Sequence[str]):
        self._trusted = tuple(ipaddress.ip_network(network, strict=False) for network in trusted_proxies)

    @property
    def behind_proxies(self) -> bool:
        return bool(self._trusted)

    def _is_trusted(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._trusted)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address (without port) for a request from `peer` carrying `forwarded_for`."""
        address = parse_address(peer)
        if address is None:
            return peer
        if forwarded_for is None or not self._is_trusted(address):
            return str(address)
        for hop in reversed(forwarded_for.split(",")):
            named = parse_address(hop)
            if named is None:  # a malformed list: only what the trusted peer itself is counts
                return str(address)
            address = named
            if not self._is_trusted(address):
                break
        return str(address)
