"""The audit log: who did what to the registry, from where and when, kept `audit.retention_days`.

`trail.py` makes the entries of the registry's changes (stored by the write itself, in its
transaction) and of actions that change no content (failed logins, admin actions, stored on their
own); `purge.py` removes entries past their retention; `export.py` writes entries out for people
(text) and for machines (JSON lines).
"""
