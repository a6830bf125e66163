"""octane-sync: incremental extraction of ALM Octane entities into a relational database.

The library is plain Python (no Prefect import); `flows/` orchestrates it.
"""

__version__ = "0.1.0"
