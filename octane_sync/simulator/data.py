"""Seeded, realistic Octane entities for one workspace (the catalog in the notes, made data).

Everything is deterministic from the seed and the workspace's position. Dates lie in 2024,
with bulk-edit clusters (hundreds to thousands of entities sharing one `last_modified`
second). Built for speed: 50,000 work items take well under a second per workspace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from octane_sync.simulator.table import Record

YEAR_START = 1704067200  # 2024-01-01T00:00:00Z
YEAR_END = 1735689599  # 2024-12-31T23:59:59Z
DAY = 86400

# subtype -> (view collection, share of work items)
SUBTYPES: dict[str, tuple[str, float]] = {
    "epic": ("epics", 0.02),
    "feature": ("features", 0.08),
    "story": ("stories", 0.50),
    "defect": ("defects", 0.30),
    "quality_story": ("quality_stories", 0.10),
}
VIEWS: dict[str, str] = {view: subtype for subtype, (view, _) in SUBTYPES.items()}
PHASES: dict[str, tuple[str, ...]] = {
    "epic": ("new", "in_progress", "done"),
    "feature": ("new", "in_progress", "done"),
    "story": ("new", "in_progress", "in_testing", "done"),
    "defect": ("new", "opened", "fixed", "proposed_closed", "closed"),
    "quality_story": ("new", "in_progress", "done"),
    "test": ("new", "in_design", "ready"),
}
DONE_PHASES = frozenset({"done", "closed"})
LIST_NODES: dict[str, tuple[str, ...]] = {
    "severity": ("low", "medium", "high", "very_high", "urgent"),
    "priority": ("low", "medium", "high", "urgent"),
    "run_native_status": ("passed", "failed", "blocked", "not_completed", "planned"),
}
TEAMS = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot")
FIRST = ("Anna", "José", "Zoë", "Łukasz", "Mårten", "Chloé", "Søren", "Ngozi", "Wei", "Priya")
LAST = ("Müller", "García", "Nakamura", "O'Brien", "Dubois", "Kowalski", "Øster", "Rossi")
WORDS = ("login", "export", "café menu", "Straße map", "billing", "search", "naïve cache", "API")
DESCRIPTIONS = (
    "<p>Straße &amp; café — ✓ {n}</p>",
    "<p>Déjà vu: <b>naïve</b> façade №{n}</p><ul><li>½ done</li><li>日本語</li></ul>",
    "<div>Plain text {n} with &lt;angle&gt; brackets &amp; “quotes”</div>",
    "<p>Ünïcödé ✓ {n}</p><p>Second paragraph — emoji 🚀</p>",
)
RUN_TYPES = ("run_manual", "run_automated")
TEST_TYPES = ("test_manual", "gherkin_test", "test_automated")
AUTOMATION = ("Not automated", "Automated", "Automation planned")
SUBTYPE_TITLES = {subtype: subtype.replace("_", " ").title() for subtype in SUBTYPES}
PARENT_TYPES = {"feature": "epic", "story": "feature", "defect": "feature"}
# Multi-references are shared, never mutated: an edit stores a new entity dict.
USER_TAGS = tuple(
    {
        "total_count": n,
        "data": [{"type": "user_tag", "id": str(9000 + k), "name": f"tag-{k}"} for k in range(n)],
    }
    for n in (0, 0, 1, 2)
)
_DAYS: dict[int, str] = {}


def octane_time(epoch: int) -> str:
    """`2024-05-01T10:00:00Z` for epoch seconds (the day part cached: seeding calls this a lot)."""
    day, seconds = divmod(int(epoch), DAY)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * DAY))
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def ref(entity: dict) -> dict:
    """A reference to `entity`, as Octane returns it inside another entity."""
    return {"type": entity["type"], "id": entity["id"], "name": entity["name"]}


class IdAllocator:
    """Numeric ids, unique per entity type across the workspaces of one shared space."""

    def __init__(self, start: int = 1001) -> None:
        self._next: dict[str, int] = {}
        self._start = start

    def next(self, entity_type: str) -> str:
        value = self._next.get(entity_type, self._start)
        self._next[entity_type] = value + 1
        return str(value)


def udf_values(position: int, rng: random.Random, team: str) -> dict[str, Any]:
    """The user-defined fields of one work item: each workspace names and fills them its way."""
    level = int(rng.random() * 3)
    impact = rng.random() < 0.3
    if position % 3 == 0:
        return {
            "team_udf": team,
            "risk_udf": ("High", "Medium", "Low")[level],
            "customer_impact_udf": impact,
        }
    if position % 3 == 1:
        return {
            "owning_team_udf": team,
            "risk_udf": ("1-High", "2-Medium", "3-Low")[level],
            "customer_impact_udf": "Yes" if impact else "No",
        }
    squad = {"type": "list_node", "id": f"list_node.squad.{team.lower()}", "name": team}
    return {"squad_udf": squad, "risk_level_udf": ("HIGH", "MED", "LOW")[level]}


class Seeder:
    """Makes the entities of one workspace; also used later to create new ones."""

    def __init__(self, position: int, ids: IdAllocator, rng: random.Random) -> None:
        self.position = position
        self.ids = ids
        self.rng = rng
        self.counter = 0
        self.phases: dict[str, dict[str, dict]] = {}
        self.list_nodes: dict[str, list[dict]] = {}
        self.users: list[dict] = []
        self.teams: list[dict] = []
        self.releases: list[dict] = []
        self.sprints: list[dict] = []
        self.sprint_release: dict[str, dict] = {}
        self.tests: list[dict] = []
        self.parents: dict[str, list[dict]] = {"epic": [], "feature": []}

    # ------------------------------------------------------------ helpers

    def _pick(self, items: list | tuple) -> Any:
        return items[int(self.rng.random() * len(items))]

    def _maybe(self, items: list | tuple, share: float) -> Any:
        return self._pick(items) if items and self.rng.random() < share else None

    def _base(self, entity_type: str, name: str, created: int, modified: int) -> dict:
        return {
            "id": self.ids.next(entity_type),
            "type": entity_type,
            "name": name,
            "creation_time": octane_time(created),
            "last_modified": octane_time(modified),
            "version_stamp": 1 + int(self.rng.random() * 6),
        }

    def _span(self) -> tuple[int, int]:
        created = YEAR_START + int(self.rng.random() * 330 * DAY)
        modified = created + int(self.rng.random() ** 2 * min(60 * DAY, YEAR_END - created))
        return created, modified

    def _description(self) -> str:
        self.counter += 1
        return self._pick(DESCRIPTIONS).format(n=self.counter)

    # ------------------------------------------------------------ small collections

    def seed_reference_data(self) -> dict[str, list[Record]]:
        """Phases, list nodes, teams, users, releases and sprints of the workspace."""
        logical = YEAR_START - 30 * DAY
        phases = []
        for entity, names in PHASES.items():
            self.phases[entity] = {}
            for name in names:
                phase = {
                    "id": f"phase.{entity}.{name}",
                    "type": "phase",
                    "name": name.replace("_", " ").title(),
                    "entity": entity,
                    "creation_time": octane_time(logical),
                    "last_modified": octane_time(logical),
                    "version_stamp": 1,
                }
                phases.append(phase)
                self.phases[entity][name] = ref(phase)
        nodes = []
        groups = {**LIST_NODES, "squad": tuple(team.lower() for team in TEAMS)}
        for group, names in groups.items():
            self.list_nodes[group] = []
            for name in names:
                node = {
                    "id": f"list_node.{group}.{name}",
                    "type": "list_node",
                    "name": name.replace("_", " ").title(),
                    "logical_name": f"list_node.{group}.{name}",
                    "creation_time": octane_time(logical),
                    "last_modified": octane_time(logical),
                    "version_stamp": 1,
                }
                nodes.append(node)
                self.list_nodes[group].append(ref(node))
        teams = [self._base("team", name, logical, logical + DAY) for name in TEAMS]
        self.teams = [ref(team) for team in teams]
        users = []
        for n in range(40):
            first, last = FIRST[n % len(FIRST)], LAST[(n * 3) % len(LAST)]
            user = self._base("workspace_user", f"user{n:02d}@example.com", logical, logical)
            user["full_name"] = f"{first} {last}"
            user["email"] = user["name"]
            user["activity_level"] = n % 3
            users.append(user)
            self.users.append(ref(user))
        releases, sprints = [], []
        span = (YEAR_END - YEAR_START) // 5
        for n in range(5):
            start = YEAR_START + n * span
            release = self._base("release", f"Release 2024.{n + 1}", start - DAY, start)
            release.update(
                start_date=octane_time(start),
                end_date=octane_time(start + span - 1),
                description=self._description(),
            )
            releases.append(release)
            self.releases.append(ref(release))
            for k in range(4):
                sprint_start = start + k * (span // 4)
                sprint = self._base(
                    "sprint", f"Sprint {n * 4 + k + 1}", sprint_start - DAY, sprint_start
                )
                sprint.update(
                    release=ref(release),
                    start_date=octane_time(sprint_start),
                    end_date=octane_time(sprint_start + span // 4 - 1),
                )
                sprints.append(sprint)
                self.sprints.append(ref(sprint))
                self.sprint_release[sprint["id"]] = ref(release)
        return {
            "phases": [Record(p) for p in phases],
            "list_nodes": [Record(n) for n in nodes],
            "teams": [Record(t) for t in teams],
            "workspace_users": [Record(u) for u in users],
            "releases": [Record(r) for r in releases],
            "sprints": [Record(s) for s in sprints],
        }

    # ------------------------------------------------------------ work items, tests, runs

    def work_item(self, subtype: str, created: int, modified: int) -> Record:
        # Hot path when seeding 50,000 items per workspace: locals and one dict literal.
        rnd = self.rng.random
        users, sprints = self.users, self.sprints
        phase_names = PHASES[subtype]
        phase_name = phase_names[int(rnd() * len(phase_names))]
        entity_id = self.ids.next("work_item")
        name = f"{SUBTYPE_TITLES[subtype]} {entity_id}: {WORDS[int(rnd() * len(WORDS))]}"
        team = self.teams[int(rnd() * len(self.teams))] if rnd() < 0.85 else None
        parents = self.parents.get(PARENT_TYPES.get(subtype, ""), ())
        parent = parents[int(rnd() * len(parents))] if parents and rnd() < 0.8 else None
        sprint = sprints[int(rnd() * len(sprints))] if rnd() < 0.7 else None
        if sprint is not None:
            release = self.sprint_release[sprint["id"]]
        else:
            release = self.releases[int(rnd() * len(self.releases))] if rnd() < 0.3 else None
        priorities = self.list_nodes["priority"]
        self.counter += 1
        item = {
            "id": entity_id,
            "type": "work_item",
            "name": name,
            "creation_time": octane_time(created),
            "last_modified": octane_time(modified),
            "version_stamp": 1 + int(rnd() * 6),
            "subtype": subtype,
            "description": DESCRIPTIONS[self.counter % len(DESCRIPTIONS)].format(n=self.counter),
            "phase": self.phases[subtype][phase_name],
            "owner": users[int(rnd() * len(users))] if rnd() < 0.8 else None,
            "author": users[int(rnd() * len(users))],
            "release": release,
            "sprint": sprint,
            "team": team,
            "parent": parent,
        }
        if subtype == "defect":
            severities = self.list_nodes["severity"]
            item["severity"] = severities[int(rnd() * len(severities))]
        item["priority"] = priorities[int(rnd() * len(priorities))] if rnd() < 0.7 else None
        item["story_points"] = int(rnd() * 13) if rnd() < 0.5 else None
        item["estimated_hours"] = round(rnd() * 40, 1) if rnd() < 0.6 else None
        item["invested_hours"] = round(rnd() * 30, 1)
        item["remaining_hours"] = round(rnd() * 20, 1)
        item["blocked"] = rnd() < 0.05
        item["user_tags"] = USER_TAGS[int(rnd() * len(USER_TAGS))]
        item["closed_on"] = item["last_modified"] if phase_name in DONE_PHASES else None
        if subtype in self.parents:
            self.parents[subtype].append({"type": subtype, "id": entity_id, "name": name})
        team_name = team["name"] if team else TEAMS[int(rnd() * len(TEAMS))]
        udfs = udf_values(self.position, self.rng, team_name)
        if rnd() < 0.1:
            udfs = dict.fromkeys(udfs)
        return Record(item, udfs, modified)

    def test(self, created: int, modified: int, subtype: str | None = None) -> Record:
        subtype = subtype or self._pick(TEST_TYPES)
        item = self._base("test", "", created, modified)
        item.update(
            name=f"Test {item['id']}: {self._pick(WORDS)}",
            subtype=subtype,
            owner=self._maybe(self.users, 0.9),
            phase=self._pick(tuple(self.phases["test"].values())),
            automation_status=self._pick(AUTOMATION),
            description=self._description(),
        )
        self.tests.append(ref(item))
        return Record(item, None, modified)

    def run(self, created: int, modified: int, subtype: str | None = None) -> Record:
        subtype = subtype or self._pick(RUN_TYPES)
        item = self._base("run", "", created, modified)
        test = self._maybe(self.tests, 1.0)
        item.update(
            name=f"Run {item['id']}" + (f" of {test['name']}" if test else ""),
            subtype=subtype,
            test=test,
            status=self._pick(self.list_nodes["run_native_status"]),
            started=octane_time(created),
            duration=int(self.rng.random() * 3600),
            release=self._maybe(self.releases, 0.8),
        )
        return Record(item, None, modified)

    def seed_items(self, items: int) -> dict[str, list[Record]]:
        """Work items, tests and runs, with bulk-edit clusters in their `last_modified`."""
        rng = self.rng
        clusters = sorted(
            YEAR_START + 150 * DAY + int(rng.random() * 180 * DAY)
            for _ in range(max(3, items // 2000))
        )
        cutoffs, total = [], 0.0
        for subtype, (_, share) in SUBTYPES.items():
            total += share
            cutoffs.append((total, subtype))
        # Parents first, so features and stories can point at earlier epics and features.
        subtypes = []
        for _ in range(items):
            draw = rng.random()
            subtypes.append(next((s for cut, s in cutoffs if draw < cut), "quality_story"))
        subtypes.sort(key=("epic", "feature", "story", "defect", "quality_story").index)

        def stamp() -> tuple[int, int]:
            created, modified = self._span()
            draw = rng.random()
            if draw < 0.15:
                # 5% in the one big bulk edit, 10% spread over the smaller ones.
                second = clusters[0] if draw < 0.05 else self._pick(clusters[1:])
                modified = second
                created = min(created, second - int(rng.random() * 30 * DAY))
            return created, modified

        work_items = [self.work_item(subtype, *stamp()) for subtype in subtypes]
        tests = [self.test(*stamp()) for _ in range(max(1, items // 10))]
        runs = [self.run(*stamp()) for _ in range(max(1, items // 5))]
        return {"work_items": work_items, "tests": tests, "runs": runs}

    def make(self, entity_type: str, now: int, subtype: str | None = None) -> Record:
        """A new entity created at `now` (epoch seconds), for the control API's `create`."""
        makers: dict[str, Callable[[], Record]] = {
            "work_item": lambda: self.work_item(subtype or "story", now, now),
            "test": lambda: self.test(now, now, subtype),
            "run": lambda: self.run(now, now, subtype),
        }
        if entity_type in makers:
            return makers[entity_type]()
        entity = self._base(entity_type, "", now, now)
        entity["name"] = f"{entity_type.replace('_', ' ').title()} {entity['id']}"
        if entity_type == "workspace_user":
            entity.update(full_name="New User", email=entity["name"], activity_level=0)
        return Record(entity, None, now)
