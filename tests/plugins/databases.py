"""Fixtures for the target databases: SQLite files and the PostgreSQL server (store work)."""
