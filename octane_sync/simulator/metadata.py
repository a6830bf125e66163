"""Octane's field metadata for one workspace: which fields each entity type has, UDFs included.

Served by `metadata/fields` and consulted by the strict `fields=` check, so both always
agree with the seeded data (`data.py`): a test holds the catalog and the data together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from octane_sync.simulator.data import SUBTYPES

WORK_ITEM_TYPES: tuple[str, ...] = ("work_item", *SUBTYPES)


class FieldSpec(NamedTuple):
    name: str
    field_type: str  # Octane's: string, memo, integer, float, boolean, date_time, reference
    target: str | None = None  # the referenced entity type
    multiple: bool = False  # a multi-reference


def _ref(name: str, target: str, multiple: bool = False) -> FieldSpec:
    return FieldSpec(name, "reference", target, multiple)


_COMMON = (
    FieldSpec("id", "string"),
    FieldSpec("type", "string"),
    FieldSpec("name", "string"),
    FieldSpec("creation_time", "date_time"),
    FieldSpec("last_modified", "date_time"),
    FieldSpec("version_stamp", "integer"),
)
_WORK_ITEM = (
    FieldSpec("subtype", "string"),
    FieldSpec("description", "memo"),
    _ref("phase", "phase"),
    _ref("owner", "workspace_user"),
    _ref("author", "workspace_user"),
    _ref("release", "release"),
    _ref("sprint", "sprint"),
    _ref("team", "team"),
    _ref("parent", "work_item"),
    _ref("priority", "list_node"),
    FieldSpec("story_points", "integer"),
    FieldSpec("estimated_hours", "float"),
    FieldSpec("invested_hours", "float"),
    FieldSpec("remaining_hours", "float"),
    FieldSpec("blocked", "boolean"),
    _ref("user_tags", "user_tag", multiple=True),
    FieldSpec("closed_on", "date_time"),
)
_SEVERITY = (_ref("severity", "list_node"),)  # defects only; the aggregate has every field
_DATES = (FieldSpec("start_date", "date_time"), FieldSpec("end_date", "date_time"))
BUILT_IN: dict[str, tuple[FieldSpec, ...]] = {
    **{t: _WORK_ITEM for t in WORK_ITEM_TYPES},
    "work_item": _WORK_ITEM + _SEVERITY,
    "defect": _WORK_ITEM + _SEVERITY,
    "release": (FieldSpec("description", "memo"), *_DATES),
    "sprint": (_ref("release", "release"), *_DATES),
    "phase": (FieldSpec("entity", "string"),),
    "team": (),
    "workspace_user": (
        FieldSpec("full_name", "string"),
        FieldSpec("email", "string"),
        FieldSpec("activity_level", "integer"),
    ),
    "test": (
        FieldSpec("subtype", "string"),
        _ref("owner", "workspace_user"),
        _ref("phase", "phase"),
        FieldSpec("automation_status", "string"),
        FieldSpec("description", "memo"),
    ),
    "run": (
        FieldSpec("subtype", "string"),
        _ref("test", "test"),
        _ref("status", "list_node"),
        FieldSpec("started", "date_time"),
        FieldSpec("duration", "integer"),
        _ref("release", "release"),
    ),
    "list_node": (FieldSpec("logical_name", "string"),),
}
# The work item UDFs of a workspace, by its position cycling every 3 (`data.udf_values`).
SEEDED_UDFS: tuple[tuple[FieldSpec, ...], ...] = (
    (
        FieldSpec("team_udf", "string"),
        FieldSpec("risk_udf", "string"),
        FieldSpec("customer_impact_udf", "boolean"),
    ),
    (
        FieldSpec("owning_team_udf", "string"),
        FieldSpec("risk_udf", "string"),
        FieldSpec("customer_impact_udf", "string"),
    ),
    (_ref("squad_udf", "list_node"), FieldSpec("risk_level_udf", "string")),
)


def field_type_of(value: Any) -> str:
    """Octane's field type for a sample value (for fields tests add at run time)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "reference"
    return "string"


class FieldCatalog:
    """The field metadata of one workspace, per entity type, in declaration order.

    Args:
        position: the workspace's position in the shared space; picks its seeded UDFs.
    """

    def __init__(self, position: int) -> None:
        self._fields: dict[str, dict[str, dict]] = {}
        for entity_type, specs in BUILT_IN.items():
            for spec in (*_COMMON, *specs):
                self._put(entity_type, spec, user_defined=False)
        for spec in SEEDED_UDFS[position % len(SEEDED_UDFS)]:
            for entity_type in WORK_ITEM_TYPES:
                self._put(entity_type, spec, user_defined=True)

    def _put(self, entity_type: str, spec: FieldSpec, *, user_defined: bool) -> None:
        record: dict[str, Any] = {
            "type": "field_metadata",
            "name": spec.name,
            "entity_name": entity_type,
            "label": spec.name.removesuffix("_udf").replace("_", " ").capitalize(),
            "field_type": spec.field_type,
            "is_user_defined": user_defined,
        }
        if spec.field_type == "reference":
            targets = [{"type": spec.target}] if spec.target else []
            record["field_type_data"] = {"targets": targets, "multiple": spec.multiple}
        self._fields.setdefault(entity_type, {})[spec.name] = record

    def add(self, entity_types: Iterable[str], name: str, sample: Any = None) -> None:
        """Declare a field added at run time (a UDF from `add_udf`, a field given to `create`);
        a name the type already has keeps its metadata."""
        spec = FieldSpec(name, field_type_of(sample))
        for entity_type in entity_types:
            if name not in self._fields.get(entity_type, {}):
                self._put(entity_type, spec, user_defined=name.endswith("_udf"))

    def names(self, entity_type: str) -> frozenset[str]:
        """The field names of `entity_type` (empty for a type the workspace does not have)."""
        return frozenset(self._fields.get(entity_type, ()))

    def records(self) -> list[dict]:
        """Every field of every entity type, as `metadata/fields` lists them."""
        return [record for fields in self._fields.values() for record in fields.values()]
