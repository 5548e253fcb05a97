"""Subcommands of the `dockyard` command line, one module each (cli.py registers them), and the helpers
they share: the setting flags (flags.py) and the stores they open (stores.py)."""
