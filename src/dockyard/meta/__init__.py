"""The metadata store: everything the registry knows besides blob bytes, one interface per concern.

Each concern (the catalog, blob links, uploads, manifests, tags, referrers, the outbox, browsing,
garbage reviews, byte deletions, retention, integrity, usage, runtime settings, the lifecycle,
replication's leases and runs, revocations of sessions, users an identity provider vouched for, the
pull-through cache's state, the audit log, access tokens) is a small Protocol in a module named for
it, beside the values it speaks in: `tags.py` holds `Tags`.
`errors.py` holds the failures any of them may raise. Callers type against the concerns they use;
one that needs several declares their intersection, named for its purpose, next to itself (being
Protocols, intersections need no entry here). What a write stores beside its change in its
transaction (outbox events, audit entries) is a `records.WriteRecord`. `store.py` unites them all
as `MetadataStore`, for the code that builds or opens a store and for nothing else.

There is one implementation, in SQL (`sql/`), run by a driver per engine (`sqlite.py`,
`postgres.py`); `factory.py` picks one from the settings. Each interface has its query mixin in
the module of the same name under `sql/`, which declares the interface it implements
(`class TagQueries(SqlCore, Tags)`).

A new concern is a new interface module here, its query mixin in `sql/` added to
`SqlMetadataStore`, the interface added to `MetadataStore`, and a migration per dialect
(`migrations/`) for its tables. A new method goes into the interface of its concern, never into
one that every caller sees.
"""
