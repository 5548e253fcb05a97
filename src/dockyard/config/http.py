"""How dockyard speaks HTTP: the limits and timeouts that keep idle, slow or oversized clients from
holding the server, and the proxies whose word on the client's address counts."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from dockyard.config.section import Section


class Http(Section):
    max_connections: int = Field(default=4096, ge=16, le=1_000_000)
    """Open connections per worker process; beyond that, new connections wait in the kernel's queue
    until one closes. Idle ones close after `header_timeout_seconds`."""
    header_timeout_seconds: float = Field(default=10.0, ge=1, le=600)
    """From a connection's accept, or the end of its previous request, to the end of the next request's
    headers: a client that sends nothing, or its headers too slowly, is disconnected."""
    max_headers: int = Field(default=64, ge=8, le=100)
    """Header fields a request may carry; more are answered 431."""
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=256 * 1024)
    """Total size of a request's header names and values; more is answered 431."""
    body_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    """How long a request body may stall without a byte before it is answered 408."""
    body_timeout_seconds: float = Field(default=6 * 3600.0, gt=0)
    """How long reading one request body may take in all (a whole layer in one PATCH or PUT)."""
    trusted_proxies: list[str] = []
    """Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For names the client: its
    address then counts for failed-login limits, the access log and events. Empty: the connection's
    peer is the client, and X-Forwarded-For is ignored."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or network") from None
        return values
