"""dockyard's configuration: the typed settings every process reads (settings.py) and the checks
behind `dockyard config check` (check.py)."""
