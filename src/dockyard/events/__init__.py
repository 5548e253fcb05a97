"""Notifications: Distribution's event envelope, sent to webhook endpoints from a persistent outbox."""
