"""`python -m octane_sync ...` is the `octane-sync` command."""

from octane_sync.cli import main

main()
