"""What a write stores beside its change, in the same transaction: notification events for the
outbox and entries of the audit log. Either both the change and its records are stored, or neither."""

from __future__ import annotations

from dockyard.meta.audit import AuditEntry
from dockyard.meta.outbox import OutboxEntry

WriteRecord = OutboxEntry | AuditEntry
