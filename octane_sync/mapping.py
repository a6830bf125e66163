"""The field mapping: which canonical column comes from which workspace field, and how.

Workspaces name and fill their fields differently (one's `team_udf` is another's
`owning_team_udf`), so that knowledge is data, not code. The default mapping ships as one
YAML file per entity in `octane_sync/mappings/`; each looks like this::

    entity: work_items
    columns:
      team:                       # canonical column (lower-case, <= 30 characters with suffix)
        type: string              # string int float bool timestamp text reference
                                  #   multi_reference html
        fields: [team_udf, owning_team_udf, squad_udf]   # candidates: first non-null wins
        length: 100               # string/reference only (default 255)
      risk:
        type: string
        fields: [risk_udf, risk_level_udf]
        values: {"1-High": HIGH, High: HIGH}  # matched after strip(), case-insensitively
        default: UNKNOWN          # when every candidate is absent or null

Physical columns: a `reference` becomes `<name>_id` + `<name>_name`; a `multi_reference`
`<name>_names` (names joined by `separator`, default "; ") + `<name>_count`; an `html`
field `<name>` (raw HTML) + `<name>_text` (plain text); the others keep their name.
A string column fed by a reference takes the reference's `name`. Values no value map
covers pass through unchanged (`octane-sync mapping check` lists them).

Overrides have the same `columns:` shape and merge over the defaults, in this order
(later wins)::

    defaults  <-  --file PATH  <-  options["mapping"][entity]
              <-  options["workspaces"][workspace_id]["mapping"][entity]

A file given on the command line holds `{entity: {columns: ...}, ...}`, as
`options["mapping"]` does. Merging a column that exists: `fields` are put in front of the
existing candidates, `values` entries are added or replaced, `default`, `length` and
`separator` are replaced; its `type` cannot change. A new column needs a `type` (its
`fields` default to its own name). Nothing can be removed. Example connection options::

    {"mapping": {"work_items": {"columns": {"team": {"fields": ["delivery_team_udf"]}}}},
     "workspaces": {"1005": {"mapping": {"work_items": {"columns": {
         "risk": {"values": {"Showstopper": "HIGH"}}}}}}}}

Unquoted yes/no/true/false are booleans in YAML: quote value-map keys such as `"Yes"`.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from octane_sync.errors import IdentifierError, MappingError, RejectThresholdExceeded
from octane_sync.models import STANDARD_COLUMNS, ColumnSpec, ColumnType

if TYPE_CHECKING:
    from octane_sync.transform import CompiledMapping

DEFAULT_STRING_LENGTH = 255
MAX_STRING_LENGTH = 4000  # Oracle VARCHAR2 limit; longer text wants `type: text`
MAX_NAME_LENGTH = 30  # Oracle 12.1 identifiers
DEFAULT_SEPARATOR = "; "
STREAM_FIELDS: tuple[str, ...] = ("id", "last_modified", "version_stamp")
_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

Scalar = str | bool | int | float | None


class ColumnKind(enum.StrEnum):
    """What a canonical column holds; the composite kinds expand to two physical columns."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    REFERENCE = "reference"
    MULTI_REFERENCE = "multi_reference"
    HTML = "html"


def value_key(value: Any) -> str | None:
    """The key a value map is looked up with: stripped and case-folded text, or None.

    Case-insensitive because workspaces spell the same list value `High` and `HIGH`;
    a reference is matched by its name.
    """
    if type(value) is str:
        return value.strip().casefold()
    if isinstance(value, dict):
        name = value.get("name")
        return name.strip().casefold() if isinstance(name, str) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def normalise_value_map(raw: Any) -> dict[str, Scalar]:
    """Value-map keys as `value_key` makes them; refuse keys YAML turned into booleans.

    Raises:
        ValueError: not a mapping, a boolean or empty key, or two keys that differ only in
            case or spacing but map to different values.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("values must be a mapping of source value -> canonical value")
    result: dict[str, Scalar] = {}
    for key, target in raw.items():
        if isinstance(key, bool):
            raise ValueError(
                f"key {key!r} is an unquoted yes/no/true/false in YAML; quote it, e.g. 'Yes'"
            )
        if not isinstance(key, str | int | float):
            raise ValueError(f"key {key!r} must be text")
        if isinstance(target, list | dict):
            raise ValueError(f"value for {key!r} must be a single value, not {target!r}")
        normal = value_key(key)
        if not normal:
            raise ValueError("empty key")
        if normal in result and result[normal] != target:
            raise ValueError(f"keys matching {key!r} map to both {result[normal]!r} and {target!r}")
        result[normal] = target
    return result


def _check_fits(kind: ColumnKind | None, value: Scalar, what: str) -> None:
    """Refuse a default or value-map target the column's type cannot hold."""
    from octane_sync.transform import convert_value

    if kind is None or value is None:  # a bad type is reported on its own key
        return
    try:
        convert_value(kind, value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}{value!r} is not a valid {kind}") from None


class ColumnMapping(BaseModel):
    """One canonical column: its kind, candidate source fields, value map and default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ColumnKind
    fields: list[str] = Field(min_length=1)
    values: dict[str, Scalar] = Field(default_factory=dict)
    default: Scalar = None
    length: int | None = Field(default=None, ge=1, le=MAX_STRING_LENGTH)
    separator: str | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for name in value:
                if not isinstance(name, str) or not _FIELD_NAME.match(name):
                    raise ValueError(f"{name!r} is not an Octane field name (lower_snake_case)")
            return list(dict.fromkeys(value))
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_map(cls, value: Any) -> dict[str, Scalar]:
        return normalise_value_map(value)

    @field_validator("values")
    @classmethod
    def _values_fit_type(cls, value: dict[str, Scalar], info: ValidationInfo) -> dict:
        kind = info.data.get("type")
        if value and kind is ColumnKind.HTML:
            raise ValueError("value maps do not apply to html columns")
        for key, target in value.items():
            _check_fits(kind, target, f"entry {key!r}: ")
        return value

    @field_validator("default")
    @classmethod
    def _default_fits_type(cls, value: Scalar, info: ValidationInfo) -> Scalar:
        _check_fits(info.data.get("type"), value, "")
        return value

    @model_validator(mode="after")
    def _options_fit_type(self) -> ColumnMapping:
        if self.length is not None and self.type not in {ColumnKind.STRING, ColumnKind.REFERENCE}:
            raise ValueError(f"length applies to string and reference columns, not {self.type}")
        if self.separator is not None and self.type is not ColumnKind.MULTI_REFERENCE:
            raise ValueError(f"separator applies to multi_reference columns, not {self.type}")
        return self

    def physical(self, name: str) -> list[ColumnSpec]:
        """The table columns this canonical column becomes."""
        length = self.length or DEFAULT_STRING_LENGTH
        match self.type:
            case ColumnKind.REFERENCE:
                return [
                    ColumnSpec(f"{name}_id", ColumnType.STRING, DEFAULT_STRING_LENGTH),
                    ColumnSpec(f"{name}_name", ColumnType.STRING, length),
                ]
            case ColumnKind.MULTI_REFERENCE:
                return [
                    ColumnSpec(f"{name}_names", ColumnType.TEXT),
                    ColumnSpec(f"{name}_count", ColumnType.INT),
                ]
            case ColumnKind.HTML:
                return [
                    ColumnSpec(name, ColumnType.TEXT),
                    ColumnSpec(f"{name}_text", ColumnType.TEXT),
                ]
            case ColumnKind.STRING:
                return [ColumnSpec(name, ColumnType.STRING, length)]
        return [ColumnSpec(name, ColumnType(self.type.value))]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form: only what is set, so `mapping show` reads like the files."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["type"] = self.type.value
        return {key: data[key] for key in ColumnMapping.model_fields if key in data}


class EntityMapping(BaseModel):
    """The effective mapping of one entity, defaults and overrides merged and validated.

    Usage::

        mapping = resolve_mapping("work_items", options=conn.options, workspace_id="1002")
        store.ensure_entity_table("work_items", mapping.columns())
        pages = client.iter_changes("1002", "work_items", fields=mapping.source_fields())
        batch = transform_page(next(pages), mapping)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str
    mapped: dict[str, ColumnMapping] = Field(alias="columns")
    origin: tuple[str, ...] = ()
    _compiled: CompiledMapping | None = PrivateAttr(default=None)

    def columns(self) -> list[ColumnSpec]:
        """The physical columns, in mapping order (never a STANDARD_COLUMNS name)."""
        return [spec for name, col in self.mapped.items() for spec in col.physical(name)]

    def source_fields(self, available: Collection[str] | None = None) -> list[str]:
        """The `fields=` list for Octane: every candidate plus the stream's own fields.

        UDFs come back only when listed, so candidates must be listed. With `available`
        (the workspace's field names, from Octane's metadata) a candidate the workspace does
        not have is left out, so a server that refuses unknown fields is never asked for one.
        """
        names = list(STREAM_FIELDS)
        for col in self.mapped.values():
            names.extend(col.fields)
        if available is not None:
            names = [name for name in names if name in STREAM_FIELDS or name in available]
        return list(dict.fromkeys(names))

    def compile(self) -> CompiledMapping:
        """The per-column extractors `transform_page` runs, built once per mapping."""
        if self._compiled is None:
            from octane_sync.transform import compile_mapping

            self._compiled = compile_mapping(self)
        return self._compiled

    def to_dict(self) -> dict[str, Any]:
        return {"columns": {name: col.to_dict() for name, col in self.mapped.items()}}


def mapping_to_yaml(mappings: list[EntityMapping]) -> str:
    """Effective mappings as YAML in the shape of an override file (usable as `--file`)."""
    lines = [f"# {m.entity}: {' <- '.join(m.origin)}" for m in mappings]
    for m in mappings:
        lines += [f"{m.entity}:", "  columns:"]
        for name, col in m.mapped.items():
            flow = yaml.safe_dump(
                col.to_dict(),
                default_flow_style=True,
                allow_unicode=True,
                sort_keys=False,
                width=10_000,
            ).strip()
            lines.append(f"    {name}: {flow}")
    return "\n".join(lines) + "\n"


def known_entities() -> list[str]:
    """The entities a default mapping exists for (one YAML file each)."""
    return list(_known_entities())


@lru_cache(maxsize=1)
def _known_entities() -> tuple[str, ...]:
    folder = resources.files("octane_sync.mappings")
    return tuple(
        sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


def _error(where: str, entity: str, key: str, problem: str) -> MappingError:
    return MappingError(f"{where}, entity {entity!r}, key {key!r}: {problem}")


def _from_validation(exc: ValidationError, where: str, entity: str, prefix: str) -> MappingError:
    first = exc.errors()[0]
    key = ".".join([prefix, *(str(part) for part in first["loc"])])
    problem = first["msg"].removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    return _error(where, entity, key, problem + (f" (and {more} more)" if more else ""))


def _check_column_name(name: Any, where: str, entity: str) -> None:
    key = f"columns.{name}"
    if not isinstance(name, str) or not _COLUMN_NAME.match(name):
        raise _error(where, entity, key, "a column name is a lower-case letter, then a-z, 0-9, _")
    if name in STANDARD_COLUMNS:
        raise _error(where, entity, key, "is a standard column the store fills itself")


def _check_physical(columns: dict[str, ColumnMapping], where: str, entity: str) -> None:
    from octane_sync.schema import safe_identifier

    owner: dict[str, str] = {}
    for name, col in columns.items():
        for spec in col.physical(name):
            key = f"columns.{name}"
            if len(spec.name) > MAX_NAME_LENGTH:
                raise _error(
                    where,
                    entity,
                    key,
                    f"physical column {spec.name!r} is longer than {MAX_NAME_LENGTH} characters",
                )
            if spec.name in STANDARD_COLUMNS:
                raise _error(where, entity, key, f"{spec.name!r} is a standard column")
            try:
                safe_identifier(spec.name, where="mapping")
            except IdentifierError:
                raise _error(
                    where, entity, key, f"{spec.name!r} is an Oracle reserved word"
                ) from None
            if spec.name in owner:
                raise _error(
                    where, entity, key, f"{spec.name!r} is also made by columns.{owner[spec.name]}"
                )
            owner[spec.name] = name


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _merged_column(old: ColumnMapping, spec: dict, where: str, entity: str, key: str) -> dict:
    if "type" in spec and spec["type"] != old.type.value:
        raise _error(
            where,
            entity,
            f"{key}.type",
            f"cannot change the type of an existing column ({old.type} -> {spec['type']!r}); "
            "add a new column instead",
        )
    data = old.model_dump()
    data.update({k: v for k, v in spec.items() if k not in {"fields", "values"}})
    if "fields" in spec:
        added = _as_list(spec["fields"])
        data["fields"] = added + old.fields if isinstance(added, list) else added
    if "values" in spec:
        try:
            data["values"] = {**old.values, **normalise_value_map(spec["values"])}
        except ValueError as exc:
            raise _error(where, entity, f"{key}.values", str(exc)) from None
    return data


def _apply_layer(
    columns: dict[str, ColumnMapping], raw: Any, *, where: str, entity: str
) -> dict[str, ColumnMapping]:
    """Merge one layer (`{columns: {...}}`) over `columns`, naming `where` in every error."""
    if raw is None:
        return columns
    if not isinstance(raw, dict):
        raise _error(where, entity, "", "must be a mapping with a `columns` key")
    for key in raw:
        if key not in {"entity", "columns"}:
            raise _error(where, entity, str(key), "unknown key (expected `columns`)")
    if "entity" in raw and raw["entity"] != entity:
        raise _error(where, entity, "entity", f"names {raw['entity']!r}")
    layer = raw.get("columns") or {}
    if not isinstance(layer, dict):
        raise _error(where, entity, "columns", "must map column names to column settings")
    result = dict(columns)
    for name, given in layer.items():
        _check_column_name(name, where, entity)
        key = f"columns.{name}"
        spec = {} if given is None else given
        if not isinstance(spec, dict):
            raise _error(where, entity, key, "must be a mapping (type, fields, values, default)")
        old = result.get(name)
        if old is not None:
            data = _merged_column(old, spec, where, entity, key)
        elif "type" not in spec:
            raise _error(where, entity, f"{key}.type", "a new column needs a type")
        else:
            data = {"fields": [name], **spec}
        try:
            result[name] = ColumnMapping.model_validate(data)
        except ValidationError as exc:
            raise _from_validation(exc, where, entity, key) from None
    _check_physical(result, where, entity)
    return result


@lru_cache(maxsize=64)
def _defaults(entity: str) -> tuple[str, dict[str, ColumnMapping]]:
    where = f"default mapping {entity}.yaml"
    text = resources.files("octane_sync.mappings").joinpath(f"{entity}.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return where, _apply_layer({}, raw, where=where, entity=entity)


def _entity_layers(raw: Any, *, where: str) -> dict[str, Any]:
    """`{entity: layer}` from a file or options, refusing entities with no default mapping."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: must map entity names to mappings, not {type(raw).__name__}")
    for entity in raw:
        if entity not in _known_entities():
            raise MappingError(
                f"{where}, entity {entity!r}: unknown entity; known: {', '.join(known_entities())}"
            )
    return raw


def load_mapping_file(path: Path) -> dict[str, Any]:
    """Read an override file (`{entity: {columns: ...}}`), YAML or JSON."""
    where = f"mapping file {path}"
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{where}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{where}: not valid YAML ({exc})") from None
    return _entity_layers(raw, where=where)


def resolve_mapping(
    entity: str,
    *,
    options: dict | None = None,
    workspace_id: str | None = None,
    mapping_file: Path | None = None,
    connection: str | None = None,
) -> EntityMapping:
    """The effective mapping of `entity`: defaults <- file <- connection <- workspace.

    Args:
        entity: an Octane collection with a default mapping (see `known_entities()`).
        options: the connection's options; `options["mapping"]` and
            `options["workspaces"][workspace_id]["mapping"]` hold overrides.
        workspace_id: whose workspace overrides apply.
        mapping_file: an override file (`{entity: {columns: ...}}`).
        connection: the connection's name, only to say where a bad override came from.

    Returns:
        The merged, validated mapping; `origin` lists the layers applied.

    Raises:
        MappingError: an unknown entity, column name, type or value, naming the mapping
            (default file, mapping file or connection options), the entity and the key.
    """
    if entity not in _known_entities():
        raise MappingError(
            f"entity {entity!r}: no default mapping; known: {', '.join(known_entities())}"
        )
    where, columns = _defaults(entity)
    origin = [where]
    options = options or {}
    of = f" of {connection}" if connection else ""
    layers: list[tuple[str, dict[str, Any]]] = []
    if mapping_file is not None:
        layers.append((f"mapping file {mapping_file}", load_mapping_file(mapping_file)))
    where = f"connection options{of}"
    layers.append((where, _entity_layers(options.get("mapping"), where=f"{where}, key 'mapping'")))
    if workspace_id is not None:
        ws_options = (options.get("workspaces") or {}).get(str(workspace_id)) or {}
        where = f"options of workspace {workspace_id}{of}"
        layers.append(
            (where, _entity_layers(ws_options.get("mapping"), where=f"{where}, key 'mapping'"))
        )
    for where, by_entity in layers:
        if entity in by_entity:
            columns = _apply_layer(columns, by_entity[entity], where=where, entity=entity)
            origin.append(where)
    return EntityMapping(entity=entity, columns=columns, origin=tuple(origin))


def validate_options(options: dict, *, connection: str | None = None) -> None:
    """Resolve every entity for the connection and each configured workspace, so a bad
    override fails when it is stored rather than in the middle of a scheduled run.

    Raises:
        MappingError: as `resolve_mapping` does.
    """
    workspaces = [None, *((options.get("workspaces") or {}).keys())]
    for entity in known_entities():
        for workspace_id in workspaces:
            resolve_mapping(
                entity, options=options, workspace_id=workspace_id, connection=connection
            )


@dataclass
class UnmappedReport:
    """What a page of real data shows the mapping does not cover yet (`mapping check`)."""

    entity: str
    records: int = 0
    unmapped_udfs: Counter[str] = field(default_factory=Counter)  # field -> records with a value
    unmapped_values: dict[str, Counter[str]] = field(default_factory=dict)  # column -> value -> n
    empty_columns: list[str] = field(default_factory=list)  # no candidate had a value anywhere

    @property
    def clean(self) -> bool:
        return not self.unmapped_udfs and not self.unmapped_values


def _names(value: Any) -> list[Any]:
    """The values a value map sees: each name of a multi-reference, else the value itself."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        return [item for item in value["data"] if isinstance(item, dict)]
    if isinstance(value, list):
        return value
    return [value]


def find_unmapped(entities: list[dict], mapping: EntityMapping) -> UnmappedReport:
    """Find `_udf` fields no column reads and values no value map covers.

    Only columns that have a value map are checked for values: a column without one
    passes every value through on purpose.
    """
    report = UnmappedReport(entity=mapping.entity)
    candidates = {name for col in mapping.mapped.values() for name in col.fields}
    seen_columns: set[str] = set()
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        report.records += 1
        for name, value in entity.items():
            if name.endswith("_udf") and name not in candidates and value is not None:
                report.unmapped_udfs[name] += 1
        for column, col in mapping.mapped.items():
            value = next((entity[f] for f in col.fields if entity.get(f) is not None), None)
            if value is None:
                continue
            seen_columns.add(column)
            if not col.values:
                continue
            for item in _names(value):
                key = value_key(item)
                if key is not None and key not in col.values:
                    shown = item.get("name") if isinstance(item, dict) else item
                    report.unmapped_values.setdefault(column, Counter())[str(shown).strip()] += 1
    report.empty_columns = [c for c in mapping.mapped if c not in seen_columns]
    return report


def check_reject_share(rejected: int, total: int, threshold: float, *, where: str) -> None:
    """Fail a workspace whose share of rejected records is above `threshold` (0..1).

    A few odd records go to OCTANE_REJECTS and the run goes on; many mean the mapping
    does not fit the workspace, and loading on would hide that.

    Raises:
        RejectThresholdExceeded: `rejected / total > threshold`, naming `where`.
        ValueError: `threshold` outside 0..1.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"reject_threshold must be between 0 and 1, not {threshold!r}")
    if total <= 0 or rejected / total <= threshold:
        return
    raise RejectThresholdExceeded(
        f"{where}: {rejected} of {total} records ({rejected / total:.1%}) could not be "
        f"transformed, more than the allowed {threshold:.1%} (option reject_threshold). "
        "Their reasons are in OCTANE_REJECTS; fix the mapping (`octane-sync mapping check`) "
        "or the data, then run again."
    )
