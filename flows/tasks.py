"""The Prefect tasks of octane-sync: small, named after what they do, retried where it helps."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.runtime import task_run
from prefect.tasks import exponential_backoff

from flows.runtime import new_client, open_store, require_connection, seal_session, secret_box
from octane_sync.errors import OctaneRequestError, TransientError
from octane_sync.mapping import resolve_mapping
from octane_sync.models import Connection, entity_type
from octane_sync.progress import BOARD
from octane_sync.redaction import redact
from octane_sync.stream import StreamFailed, reconcile_deletes, sync_entity

# Octane's session limits are site settings; ten minutes stays well inside any we know of.
SESSION_CACHE = timedelta(minutes=10)
# A workspace's fields change rarely (an admin adds a UDF); re-read them a few times a day.
FIELDS_CACHE = timedelta(hours=6)


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when what failed it is temporary (Octane busy, network blip)."""
    try:
        state.result()
    except StreamFailed as exc:
        return isinstance(exc.__cause__, TransientError)
    except TransientError:
        return True
    except Exception:
        return False
    return False


# Octane busy or the network blipped: try again a little later. Anything else is final.
RETRY_TRANSIENT: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient_only,
}


def _auth_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """One cached sign-in per connection and credential; a changed secret misses the cache."""
    conn: Connection = parameters["connection"]
    identity = "|".join(
        [conn.base_url, conn.shared_space_id, conn.client_id, conn.client_secret_enc]
    )
    return f"octane-auth-{conn.name}-{hashlib.sha256(identity.encode()).hexdigest()[:24]}"


@task(
    name="authenticate",
    task_run_name="authenticate {connection.name}",
    cache_key_fn=_auth_cache_key,
    cache_expiration=SESSION_CACHE,
    persist_result=True,
    **RETRY_TRANSIENT,
)
def authenticate(connection: Connection, key_block: str) -> str:
    """Sign in once per connection; the result is the session, encrypted before Prefect keeps it."""
    box = secret_box(key_block)
    with new_client(connection, box, session_token=None) as client:
        client.sign_in()
        return seal_session(client, box)


@task(
    name="list-workspaces",
    task_run_name="list workspaces of {connection.name}",
    **RETRY_TRANSIENT,
    cache_policy=NO_CACHE,
)
def list_workspaces(connection: Connection, session_token: str, key_block: str) -> list[str]:
    """Expand `*`: every workspace this API key can see."""
    with new_client(connection, secret_box(key_block), session_token) as client:
        return [str(ws["id"]) for ws in client.list_workspaces()]


@task(name="prepare-tables", cache_policy=NO_CACHE)
def prepare_tables(
    database_block: str,
    connections: list[Connection],
    pairs: list[tuple[str, str]],
    entities: list[str] | None,
) -> dict[str, list[str]]:
    """Create or widen each entity table once, before workspaces load into it concurrently."""
    store = open_store(database_block)
    by_name = {conn.name: conn for conn in connections}
    columns: dict[str, dict[str, Any]] = {}
    for conn_name, workspace_id in pairs:
        conn = by_name[conn_name]
        for entity in entities or conn.entities:
            mapping = resolve_mapping(entity, options=conn.options, workspace_id=workspace_id)
            for column in mapping.columns():
                columns.setdefault(entity, {}).setdefault(column.name, column)
    return {
        entity: store.ensure_entity_table(entity, list(specs.values()))
        for entity, specs in columns.items()
    }


def _fields_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    conn: Connection = parameters["connection"]
    where = f"{conn.source}|{parameters['workspace_id']}|{parameters['entity']}"
    return f"octane-fields-{hashlib.sha256(where.encode()).hexdigest()[:24]}"


@task(
    name="discover-fields",
    task_run_name="fields of {workspace_id} {entity}",
    cache_key_fn=_fields_cache_key,
    cache_expiration=FIELDS_CACHE,
    persist_result=True,
    **RETRY_TRANSIENT,
)
def discover_fields(
    connection: Connection, workspace_id: str, entity: str, session_token: str, key_block: str
) -> list[str] | None:
    """The fields this workspace has for `entity`, from Octane's metadata (cached).

    Lets each workspace be asked only for the mapping's candidates it really has. When the
    metadata cannot be read (e.g. the key may not read it), None: ask for every candidate.
    """
    with new_client(connection, secret_box(key_block), session_token) as client:
        try:
            return sorted(client.field_names(workspace_id, entity_type(entity)))
        except OctaneRequestError as exc:
            get_run_logger().warning(
                "Cannot read the field metadata of %s in workspace %s (%s); asking for every "
                "field the mapping names",
                entity,
                workspace_id,
                redact(str(exc)),
            )
            return None


@task(
    name="sync-entity",
    task_run_name="{workspace_id} {entity}",
    # A retry resumes at the last committed page, so a few more of them are cheap.
    **{**RETRY_TRANSIENT, "retries": 3, "retry_delay_seconds": exponential_backoff(10)},
    cache_policy=NO_CACHE,
)
def sync_entity_task(
    connection_name: str,
    workspace_id: str,
    entity: str,
    session_token: str,
    database_block: str,
    key_block: str,
    full_refresh: bool,
    flow_run_id: str | None,
    available_fields: list[str] | None = None,
) -> dict:
    """Fetch, transform and load one entity, a page per transaction.

    A retry resumes from the last committed page (the watermark moved with it), so it is
    cheap; `full_refresh` resets the watermark on the first attempt only.
    """
    store = open_store(database_block)
    connection = require_connection(store, connection_name)
    mapping = resolve_mapping(entity, options=connection.options, workspace_id=workspace_id)
    store.ensure_entity_table(entity, mapping.columns())
    with new_client(connection, secret_box(key_block), session_token) as client:
        result = sync_entity(
            client,
            store,
            connection=connection,
            workspace_id=workspace_id,
            entity=entity,
            mapping=mapping,
            flow_run_id=flow_run_id,
            full_refresh=full_refresh and task_run.run_count <= 1,
            available_fields=available_fields,
            on_page=BOARD.update,
        )
    return result.as_dict()


@task(
    name="reconcile-deletes",
    task_run_name="deletes of {workspace_id} {entity}",
    **RETRY_TRANSIENT,
    cache_policy=NO_CACHE,
)
def reconcile_deletes_task(
    connection_name: str,
    workspace_id: str,
    entity: str,
    session_token: str,
    database_block: str,
    key_block: str,
) -> int:
    """List every id of the entity and mark the stored rows Octane no longer has."""
    store = open_store(database_block)
    connection = require_connection(store, connection_name)
    with new_client(connection, secret_box(key_block), session_token) as client:
        return reconcile_deletes(
            client, store, connection=connection, workspace_id=workspace_id, entity=entity
        )
