"""The metadata store: everything the registry knows besides blob bytes, one interface per concern.

Each concern is a small interface in a module of its own, with the values it speaks in:
`catalog.py`, `blob_links.py`, `uploads.py`, `manifests.py`, `tags.py`, `referrers.py`,
`outbox.py`, `browse.py`, `garbage_reviews.py`, `blob_deletions.py`, `retention.py`,
`integrity.py`, `usage.py`, `runtime_settings.py` and `lifecycle.py`; `errors.py` holds the
failures any of them may raise. Callers type against the concerns they use (a service needing
several names their intersection next to itself); `store.py` unites them all for the code that
builds or opens a store.

There is one implementation, in SQL (`sql/`), run by a driver per engine (`sqlite.py`,
`postgres.py`); `factory.py` picks one from the settings. Each interface has its query mixin in
the module of the same name under `sql/`, declared as implementing it
(`class TagQueries(SqlCore, Tags)`).

A new concern is a new interface module here, a query mixin in `sql/` added to `SqlMetadataStore`,
the interface added to `MetadataStore`, and a migration per dialect (`migrations/`) for its tables.
A new method goes into the interface of its concern, never into one that every caller sees.
"""
