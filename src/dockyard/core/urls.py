"""URLs that may carry credentials."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_password(url: str) -> str:
    """The URL with any password replaced by `***`, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
