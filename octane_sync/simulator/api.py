"""Octane's REST routes over the seeded workspaces: sign-in/out, workspaces, collections, ids,
field metadata.

A route table: (method, path pattern, handler). Each handler takes the simulator and the
request and returns a Response; nothing here knows about sockets or faults.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from octane_sync.simulator.predicate import compile_predicate
from octane_sync.simulator.protocol import Request, Response, error_response, json_response
from octane_sync.simulator.query_parser import (
    And,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    RefFilter,
    parse,
)
from octane_sync.simulator.table import OrderField, Record
from octane_sync.simulator.workspace import UnknownCollection, Workspace

if TYPE_CHECKING:
    from octane_sync.simulator.core import OctaneSimulator

SESSION_COOKIE = "LWSSO_COOKIE_KEY"
USER_COOKIE = "OCTANE_USER"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_FIELD_SPEC = re.compile(rf"({_NAME})(?:\{{({_NAME}(?:,{_NAME})*)\}})?")
_ORDER_SPEC = re.compile(rf"(-?)({_NAME})")

Handler = Callable[["OctaneSimulator", Request, re.Match], Response]
FieldSpec = list[tuple[str, tuple[str, ...]]]


class BadRequest(Exception):
    """A request parameter Octane would refuse with 400."""

    def __init__(self, error_code: str, description: str, **properties: Any) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.properties = properties


# ---------------------------------------------------------------- authentication


def sign_in(sim: OctaneSimulator, request: Request, _: re.Match) -> Response:
    if "HPECLIENTTYPE" in {name.upper() for name in request.headers}:
        return error_response(
            401, "platform.unsupported_client_type", "The HPECLIENTTYPE header is not allowed."
        )
    content_type = request.headers.get("Content-Type", "")
    if not content_type.lower().startswith("application/json"):
        return error_response(415, "platform.unsupported_media_type", "Send application/json.")
    try:
        body = request.json()
    except orjson.JSONDecodeError:
        return error_response(400, "platform.invalid_json", "The body is not JSON.")
    if not isinstance(body, dict):
        body = {}
    user = body.get("client_id", body.get("user"))
    secret = body.get("client_secret", body.get("password"))
    if user != sim.client_id or secret != sim.client_secret:
        return error_response(401, "AUTHENTICATION_FAILED", "Authentication failed.")
    token = sim.sessions.sign_in(str(user))
    return Response(
        200,
        headers=[
            ("Set-Cookie", f"{SESSION_COOKIE}={token}; Path=/; HttpOnly"),
            ("Set-Cookie", f"{USER_COOKIE}={user}; Path=/"),
        ],
    )


def sign_out(sim: OctaneSimulator, request: Request, _: re.Match) -> Response:
    sim.sessions.sign_out(request.cookies.get(SESSION_COOKIE))
    return Response(
        200,
        headers=[
            ("Set-Cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0"),
            ("Set-Cookie", f"{USER_COOKIE}=; Path=/; Max-Age=0"),
        ],
    )


def authenticated(handler: Handler) -> Handler:
    """Refuse the request with Octane's 401 unless its session cookie is valid; pass on a
    rotated cookie in the response."""

    def wrapped(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
        check = sim.sessions.check(request.cookies.get(SESSION_COOKIE))
        if check.session is None:
            return error_response(401, check.error_code or "UNAUTHORIZED", "Unauthorized.")
        try:
            response = handler(sim, request, match)
        except BadRequest as exc:
            response = error_response(400, exc.error_code, exc.description, exc.properties)
        if check.new_token:
            response.headers.append(
                ("Set-Cookie", f"{SESSION_COOKIE}={check.new_token}; Path=/; HttpOnly")
            )
        return response

    return wrapped


# ---------------------------------------------------------------- parameters


def _int_param(request: Request, name: str, default: int) -> int:
    text = request.param(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(
            f"platform.invalid_{name}", f"{name} must be an integer", **{name: text}
        ) from None


def paging(sim: OctaneSimulator, request: Request) -> tuple[int, int]:
    """`offset` and `limit`; 400 when limit is outside 1..max page size or offset < 0."""
    limit = _int_param(request, "limit", sim.default_page_size)
    if not 1 <= limit <= sim.max_page_size:
        raise BadRequest(
            "platform.limit_out_of_range",
            f"The limit must be between 1 and {sim.max_page_size}.",
            limit=limit,
            max_page_size=sim.max_page_size,
        )
    offset = _int_param(request, "offset", 0)
    if offset < 0:
        raise BadRequest("platform.invalid_offset", "The offset must not be negative.")
    return offset, limit


def query_node(request: Request) -> Node | None:
    """The parsed `query` parameter; Octane wants the statement inside double quotes."""
    text = request.param("query")
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] != '"' or stripped[-1] != '"':
        raise BadRequest(
            "platform.query_syntax_error", "The query must be enclosed in double quotes."
        )
    try:
        return parse(stripped)
    except QuerySyntaxError as exc:
        raise BadRequest("platform.query_syntax_error", f"Invalid query: {exc}") from None


def order_fields(request: Request) -> list[OrderField]:
    text = request.param("order_by")
    if not text:
        return [OrderField("id")]
    fields = []
    for part in text.split(","):
        match = _ORDER_SPEC.fullmatch(part.strip())
        if match is None:
            raise BadRequest("platform.invalid_order_by", f"Cannot order by {part!r}.")
        fields.append(OrderField(match.group(2), descending=bool(match.group(1))))
    return fields


def field_spec(request: Request) -> FieldSpec | None:
    """`fields=a,owner{full_name},b` as [(name, sub-fields)], or None when not given."""
    text = request.param("fields")
    if text is None or not text.strip():
        return None
    spec: FieldSpec = []
    position = 0
    text = text.replace(" ", "")
    while position < len(text):
        match = _FIELD_SPEC.match(text, position)
        if match is None:
            raise BadRequest("platform.invalid_fields", f"Invalid fields parameter: {text!r}")
        subfields = tuple(match.group(2).split(",")) if match.group(2) else ()
        spec.append((match.group(1), subfields))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise BadRequest("platform.invalid_fields", f"Invalid fields parameter: {text!r}")
            position += 1
    return spec


def check_fields(
    sim: OctaneSimulator, workspace: Workspace, collection: str, fields: FieldSpec | None
) -> None:
    """With `strict_fields`, refuse a `fields=` name the entity type does not have, as a
    server that validates the list would; otherwise unknown names are silently left out."""
    if not sim.strict_fields or fields is None:
        return
    entity_type = workspace.entity_type(collection)
    known = workspace.fields.names(entity_type)
    unknown = [name for name, _ in fields if name not in known]
    if unknown:
        raise BadRequest(
            "platform.unknown_field",
            f"The field {unknown[0]!r} does not exist for entity type {entity_type!r}.",
            field_name=unknown[0],
            entity_name=entity_type,
            unknown_fields=unknown,
        )


# ---------------------------------------------------------------- entities


def project(
    record: Record, fields: FieldSpec | None, view_type: str | None, workspace: Workspace
) -> dict:
    """The JSON Octane returns for `record`: UDFs only when asked for, `id`/`type` always."""
    if fields is None:
        return {**record.core, "type": view_type} if view_type else record.core
    out = {"id": record.id, "type": view_type or record.core["type"]}
    for name, subfields in fields:
        if name in out or not record.has(name):
            continue
        value = record.get(name)
        if subfields and isinstance(value, dict):
            value = _expand(value, subfields, workspace)
        out[name] = value
    return out


def _expand(value: dict, subfields: tuple[str, ...], workspace: Workspace) -> dict:
    if "data" in value:
        return {**value, "data": [_expand(ref, subfields, workspace) for ref in value["data"]]}
    target = workspace.resolve(value)
    extra = {name: target.get(name) if target else None for name in subfields}
    return {**value, **extra}


def _workspace(sim: OctaneSimulator, match: re.Match) -> Workspace:
    if match.group("space") != str(sim.shared_space_id):
        raise NotFound("shared space", match.group("space"))
    workspace = sim.workspaces.get(match.group("workspace"))
    if workspace is None:
        raise NotFound("workspace", match.group("workspace"))
    return workspace


class NotFound(Exception):
    def __init__(self, what: str, which: str) -> None:
        super().__init__(f"The {what} {which!r} does not exist.")


def not_found(handler: Handler) -> Handler:
    def wrapped(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
        try:
            return handler(sim, request, match)
        except NotFound as exc:
            return error_response(404, "platform.entity_not_found", str(exc))
        except UnknownCollection as exc:
            return error_response(
                404, "platform.unknown_entity_type", f"Unknown collection {exc.args[0]!r}."
            )

    return wrapped


def list_workspaces(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
    if match.group("space") != str(sim.shared_space_id):
        raise NotFound("shared space", match.group("space"))
    offset, limit = paging(sim, request)
    rows = [w.as_json() for w in sim.workspaces.values()]
    return json_response(
        200,
        {
            "total_count": len(rows),
            "data": rows[offset : offset + limit],
            "exceeds_total_count": False,
        },
    )


def get_workspace(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
    return json_response(200, _workspace(sim, match).as_json())


def list_entities(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
    collection = match.group("collection")
    offset, limit = paging(sim, request)
    node, order, fields = query_node(request), order_fields(request), field_spec(request)
    with sim.lock:
        workspace = _workspace(sim, match)
        table = workspace.table(collection)
        view_type = workspace.view_type(collection)
        check_fields(sim, workspace, collection, fields)
        try:
            total, records = table.select(node, order, offset, limit)
        except QuerySyntaxError as exc:
            raise BadRequest("platform.query_syntax_error", f"Invalid query: {exc}") from None
        rows = [project(r, fields, view_type, workspace) for r in records]
    exceeds = sim.total_count_cap is not None and total > sim.total_count_cap
    body = {
        "total_count": sim.total_count_cap if exceeds else total,
        "data": rows,
        "exceeds_total_count": exceeds,
    }
    return json_response(200, body)


def get_entity(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
    collection, entity_id = match.group("collection"), match.group("id")
    fields = field_spec(request)
    with sim.lock:
        workspace = _workspace(sim, match)
        record = workspace.table(collection).get(entity_id)
        check_fields(sim, workspace, collection, fields)
        if record is None:
            raise NotFound(collection.rstrip("s"), entity_id)
        row = project(record, fields, workspace.view_type(collection), workspace)
    return json_response(200, row)


def _has_or(node: Node) -> bool:
    if isinstance(node, Or):
        return True
    if isinstance(node, And):
        return any(_has_or(item) for item in node.items)
    if isinstance(node, Not):
        return _has_or(node.item)
    if isinstance(node, RefFilter):
        return _has_or(node.condition)
    return False


def list_field_metadata(sim: OctaneSimulator, request: Request, match: re.Match) -> Response:
    """`metadata/fields`: only `query` is honoured, `;` but no `||`, no paging (as Octane)."""
    node = query_node(request)
    if node is not None and _has_or(node):
        raise BadRequest(
            "platform.query_syntax_error", "The metadata API does not support || in a query."
        )
    with sim.lock:
        rows = _workspace(sim, match).fields.records()
        if node is not None:
            try:
                matches = compile_predicate(node)
                rows = [row for row in rows if matches(row)]
            except QuerySyntaxError as exc:
                raise BadRequest("platform.query_syntax_error", f"Invalid query: {exc}") from None
        body = orjson.dumps({"total_count": len(rows), "data": rows, "exceeds_total_count": False})
    return Response(200, body)


_SPACE = r"/api/shared_spaces/(?P<space>[^/]+)"
_WORKSPACE = _SPACE + r"/workspaces/(?P<workspace>[^/]+)"
ROUTES: list[tuple[str, re.Pattern, Handler]] = [
    ("POST", re.compile(r"/authentication/sign_in"), sign_in),
    ("POST", re.compile(r"/authentication/sign_out"), sign_out),
    ("GET", re.compile(_SPACE + r"/workspaces"), authenticated(not_found(list_workspaces))),
    ("GET", re.compile(_WORKSPACE), authenticated(not_found(get_workspace))),
    # Before the id route, which would read it as collection `metadata`, id `fields`.
    (
        "GET",
        re.compile(_WORKSPACE + r"/metadata/fields"),
        authenticated(not_found(list_field_metadata)),
    ),
    (
        "GET",
        re.compile(_WORKSPACE + r"/(?P<collection>[a-z_]+)"),
        authenticated(not_found(list_entities)),
    ),
    (
        "GET",
        re.compile(_WORKSPACE + r"/(?P<collection>[a-z_]+)/(?P<id>[^/]+)"),
        authenticated(not_found(get_entity)),
    ),
]


def handle(sim: OctaneSimulator, request: Request) -> Response:
    """Route `request`; 404 for unknown paths, 405 for a known path with another method."""
    path = request.path.rstrip("/") or "/"
    known_path = False
    for method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        known_path = True
        if method == request.method:
            return handler(sim, request, match)
    if known_path:
        return error_response(405, "platform.method_not_allowed", "Method not allowed.")
    return error_response(404, "platform.not_found", f"No resource at {request.path}.")
