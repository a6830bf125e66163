"""`make demo`: the newcomer's first run on the simulator and SQLite."""

from __future__ import annotations


def main() -> None:
    print("make demo: not yet — the flows are still being built.")


if __name__ == "__main__":
    main()
