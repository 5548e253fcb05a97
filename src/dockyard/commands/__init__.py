"""Subcommands of the `dockyard` command line, one module each; cli.py registers them."""
