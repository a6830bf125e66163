"""Entity JSON -> rows for the store, by a compiled mapping; unusable records -> rejects."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from octane_sync.html_text import html_to_text
from octane_sync.mapping import DEFAULT_SEPARATOR, DEFAULT_STRING_LENGTH, ColumnKind, value_key
from octane_sync.models import Reject, TransformedBatch, Watermark

if TYPE_CHECKING:
    from octane_sync.mapping import ColumnMapping, EntityMapping

Extractor = Callable[[dict, dict], None]
_MAX_INT = 2**63  # the store's BIGINT / NUMBER(19)
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class RecordError(ValueError):
    """One record cannot be turned into a row; the message is the reject's reason."""


def to_text(value: Any, separator: str = DEFAULT_SEPARATOR) -> str | None:
    """Text of any Octane value: a reference gives its name, a multi-reference its names."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        if not isinstance(value.get("data"), list):
            return to_text(value.get("name"))
        value = value["data"]
    if isinstance(value, list):
        return separator.join(t for item in value if (t := to_text(item)) is not None) or None
    raise TypeError(f"cannot make text of {type(value).__name__}")


def _plain(value: Any) -> Any:
    """A reference stands for its name when a scalar is wanted (`squad_udf` -> team name)."""
    if isinstance(value, dict) and "data" not in value:
        return value.get("name")
    return value


def to_int(value: Any) -> int:
    if type(value) is int and -_MAX_INT <= value < _MAX_INT:
        return value
    value = _plain(value)
    if type(value) is int:
        result = value
    elif isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        result = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = int(text)
        except ValueError:
            number = float(text)
            if not number.is_integer():
                raise
            result = int(number)
    else:
        raise TypeError(type(value).__name__)
    if not -_MAX_INT <= result < _MAX_INT:
        raise ValueError("out of the 64-bit range")
    return result


def to_float(value: Any) -> float:
    if type(value) is float and math.isfinite(value):
        return value
    value = _plain(value)
    if isinstance(value, str):
        value = value.strip()
    elif not isinstance(value, int | float):
        raise TypeError(type(value).__name__)
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("not a finite number")
    return result


def to_bool(value: Any) -> bool:
    """true/false, 1/0, and the texts "Yes"/"No", "true"/"false", "1"/"0" in any case."""
    if value is True or value is False:
        return value
    value = _plain(value)
    if isinstance(value, bool):
        return value
    if type(value) is int and value in {0, 1}:
        return bool(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError("not a boolean")


@lru_cache(maxsize=65536)
def _parse_time(text: str) -> datetime:
    # Cached: bulk edits give thousands of rows the same second.
    parsed = datetime.fromisoformat(text.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_timestamp(value: Any) -> datetime:
    """Octane's `2024-05-01T10:00:00Z` (or any ISO 8601 text) as an aware UTC datetime."""
    if isinstance(value, str):
        return _parse_time(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise TypeError(type(value).__name__)


_SCALAR: dict[ColumnKind, Callable[[Any], Any]] = {
    ColumnKind.INT: to_int,
    ColumnKind.FLOAT: to_float,
    ColumnKind.BOOL: to_bool,
    ColumnKind.TIMESTAMP: to_timestamp,
}


def convert_value(kind: ColumnKind, value: Any) -> Any:
    """Convert one value to what a column of `kind` stores (text kinds store text).

    Raises:
        ValueError, TypeError: the value does not fit the kind.
    """
    convert = _SCALAR.get(kind)
    return to_text(value) if convert is None else convert(value)


def entity_json(entity: Any) -> str:
    """The entity as compact JSON text, non-ASCII kept (the lossless copy in every row)."""
    try:
        return orjson.dumps(entity).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        # orjson refuses integers beyond 64 bits and non-string keys; json takes both.
        return json.dumps(entity, ensure_ascii=False, separators=(",", ":"), default=repr)


def _getter(fields: Sequence[str]) -> tuple[str | None, Callable[[dict], Any]]:
    """The first candidate field that holds a value (absent and null both fall through).

    Returns the field name too when there is only one, so the extractor can call
    `entity.get(name)` itself: one Python call less per column and row.
    """
    candidates = tuple(fields)

    def first(entity: dict) -> Any:
        for name in candidates:
            value = entity.get(name)
            if value is not None:
                return value
        return None

    return (candidates[0] if len(candidates) == 1 else None), first


def _bad(column: str, col: ColumnMapping, entity: dict, value: Any, problem: str) -> RecordError:
    source = next((f for f in col.fields if entity.get(f) is not None), col.fields[0])
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RecordError(f"column {column!r}: field {source!r} value {shown} {problem}")


def _string_converter(col: ColumnMapping) -> Callable[[Any], str | None]:
    length = col.length or DEFAULT_STRING_LENGTH

    def to_string(value: Any) -> str | None:
        # Over-long text is cut to the column: entity_json keeps the whole value.
        text = value if type(value) is str else to_text(value)
        if text is not None and len(text) > length:
            return text[:length]
        return text

    return to_string


def _scalar(name: str, col: ColumnMapping) -> Extractor:
    if col.type is ColumnKind.STRING:
        convert = _string_converter(col)
    else:
        convert = _SCALAR.get(col.type, to_text)
    single, first = _getter(col.fields)
    default = None if col.default is None else convert(col.default)
    vmap = {key: None if out is None else convert(out) for key, out in col.values.items()}
    problem = f"is not a valid {col.type}"

    def extract(entity: dict, row: dict) -> None:
        value = entity.get(single) if single is not None else first(entity)
        if value is None:
            row[name] = default
            return
        if vmap:
            key = value_key(value)
            if key in vmap:
                row[name] = vmap[key]
                return
        try:
            row[name] = convert(value)
        except (TypeError, ValueError, OverflowError):
            raise _bad(name, col, entity, value, problem) from None

    return extract


def _reference(name: str, col: ColumnMapping) -> Extractor:
    id_column, name_column = f"{name}_id", f"{name}_name"
    single, first = _getter(col.fields)
    to_string = _string_converter(col)
    length = col.length or DEFAULT_STRING_LENGTH
    default = to_string(col.default)
    vmap = {key: to_string(out) for key, out in col.values.items()}

    def extract(entity: dict, row: dict) -> None:
        value = entity.get(single) if single is not None else first(entity)
        if value is None:
            row[id_column] = None
            row[name_column] = default
            return
        if type(value) is dict:
            if "data" in value:
                raise _bad(name, col, entity, value, "is a multi-reference, not one reference")
            ref_id = value.get("id")
            row[id_column] = ref_id if type(ref_id) is str or ref_id is None else str(ref_id)
            label = value.get("name")
        else:  # a workspace that keeps this as plain text: the text is the name
            row[id_column] = None
            label = value
        if vmap:
            key = value_key(label)
            if key in vmap:
                row[name_column] = vmap[key]
                return
        if type(label) is str and len(label) <= length:
            row[name_column] = label
            return
        try:
            row[name_column] = to_string(label)
        except TypeError:
            raise _bad(name, col, entity, value, "is not a reference") from None

    return extract


def _multi_reference(name: str, col: ColumnMapping) -> Extractor:
    names_column, count_column = f"{name}_names", f"{name}_count"
    single, first = _getter(col.fields)
    separator = col.separator if col.separator is not None else DEFAULT_SEPARATOR
    default = to_text(col.default)
    vmap = dict(col.values)

    def extract(entity: dict, row: dict) -> None:
        value = entity.get(single) if single is not None else first(entity)
        if value is None:
            row[names_column] = default
            row[count_column] = None
            return
        count = None
        if type(value) is dict:
            items = value.get("data")
            if items is None:  # one plain reference where a list was expected
                items = [value]
            count = value.get("total_count")
        elif type(value) is list:
            items = value
        else:
            items = [value]
        if type(items) is not list:
            raise _bad(name, col, entity, value, "is not a multi-reference")
        labels = []
        for item in items:
            label = item.get("name") if type(item) is dict else item
            if vmap:
                label = vmap.get(value_key(label), label)
            if label is not None:
                labels.append(label if type(label) is str else to_text(label))
        row[names_column] = separator.join(labels) if labels else None
        row[count_column] = count if type(count) is int else len(items)

    return extract


def _html(name: str, col: ColumnMapping) -> Extractor:
    text_column = f"{name}_text"
    single, first = _getter(col.fields)
    default = to_text(col.default)
    default_text = html_to_text(default) or None if default is not None else None

    def extract(entity: dict, row: dict) -> None:
        value = entity.get(single) if single is not None else first(entity)
        if value is None:
            row[name] = default
            row[text_column] = default_text
            return
        if type(value) is not str:
            try:
                value = to_text(value)
            except TypeError:
                raise _bad(name, col, entity, value, "is not HTML text") from None
        row[name] = value
        row[text_column] = html_to_text(value) or None if value is not None else None

    return extract


_FACTORIES: dict[ColumnKind, Callable[[str, ColumnMapping], Extractor]] = {
    ColumnKind.REFERENCE: _reference,
    ColumnKind.MULTI_REFERENCE: _multi_reference,
    ColumnKind.HTML: _html,
}


@dataclass(frozen=True)
class CompiledMapping:
    """A mapping turned into one extractor closure per canonical column (built once)."""

    entity: str
    extractors: tuple[Extractor, ...]


def compile_mapping(mapping: EntityMapping) -> CompiledMapping:
    """Precompute getters, converted defaults and value maps so rows only run closures."""
    return CompiledMapping(
        entity=mapping.entity,
        extractors=tuple(
            _FACTORIES.get(col.type, _scalar)(name, col) for name, col in mapping.mapped.items()
        ),
    )


def _version_stamp(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return to_int(value)
    except (TypeError, ValueError):
        raise RecordError(f"version_stamp {value!r} is not an integer") from None


def transform_page(entities: Iterable[Any], mapping: EntityMapping) -> TransformedBatch:
    """Turn one page of Octane entities into rows; records that do not fit become rejects.

    A reject never stops the page: it is kept with its reason and raw JSON, and the page's
    watermark still moves past it so one bad record cannot block the stream.

    Args:
        entities: entity JSON objects, in the page's (last_modified, id) order.
        mapping: the effective mapping of the entity (see `resolve_mapping`).

    Returns:
        Rows keyed by `mapping.columns()` names plus id, last_modified (aware UTC),
        version_stamp and entity_json; the rejects; the watermark of the last entity that
        has a usable id and last_modified (None if none has).
    """
    extractors = mapping.compile().extractors
    rows: list[dict] = []
    rejects: list[Reject] = []
    last: tuple[datetime, str] | None = None
    for entity in entities:
        entity_id = None
        try:
            if type(entity) is not dict:
                raise RecordError(f"not a JSON object but {type(entity).__name__}")
            raw_id = entity.get("id")
            if raw_id is None or raw_id == "" or isinstance(raw_id, dict | list | bool):
                raise RecordError(f"no usable id ({raw_id!r})")
            entity_id = str(raw_id)
            raw_time = entity.get("last_modified")
            try:
                last_modified = to_timestamp(raw_time)
            except (TypeError, ValueError):
                raise RecordError(f"last_modified {raw_time!r} is not a timestamp") from None
            last = (last_modified, entity_id)
            row = {
                "id": entity_id,
                "last_modified": last_modified,
                "version_stamp": _version_stamp(entity.get("version_stamp")),
            }
            for extract in extractors:
                extract(entity, row)
            row["entity_json"] = entity_json(entity)
            rows.append(row)
        except RecordError as exc:
            rejects.append(Reject(entity_id, str(exc), entity_json(entity)))
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # A shape no rule foresaw: keep the record for inspection, go on with the page.
            reason = f"unexpected data ({type(exc).__name__}: {exc})"
            rejects.append(Reject(entity_id, reason, entity_json(entity)))
    watermark = Watermark(*last) if last is not None else None
    return TransformedBatch(rows=rows, rejects=rejects, watermark=watermark)
