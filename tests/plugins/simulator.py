"""Fixtures that start the Octane simulator in-process on a free port (simulator work)."""
