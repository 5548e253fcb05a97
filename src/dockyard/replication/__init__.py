"""Replication: rules that copy repositories between dockyard and other registries, both ways.

`service.py` composes it; `runner.py` runs one rule under its lease, `copier.py` copies exactly,
`events.py` replays pushes and deletes from the outbox, `scheduler.py` runs cron rules once per slot
across instances, `local.py` and `remote_side.py` are the two sides of a copy.
"""
