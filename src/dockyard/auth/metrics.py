"""Authentication metrics, aggregated over worker processes like dockyard's others."""

from __future__ import annotations

from prometheus_client import Counter

FAILED_LOGINS = Counter("dockyard_failed_logins", "Logins refused for a wrong user name or password")
LIMITED_LOGINS = Counter("dockyard_limited_logins", "Logins refused with 429: too many failures from the address")
PASSWORD_CHECKS_REFUSED = Counter(
    "dockyard_password_checks_refused", "Password checks refused with 429 because the bcrypt pool was full"
)
