"""The `octane-sync-workspace` flow: bring every entity of one workspace up to date."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from blocks import DATABASE_BLOCK, KEY_BLOCK
from flows.runtime import open_store, require_connection
from flows.tasks import (
    authenticate,
    discover_fields,
    reconcile_deletes_task,
    sync_entity_task,
)
from octane_sync.errors import OctaneSyncError
from octane_sync.redaction import redact
from octane_sync.stream import StreamFailed


class WorkspaceSyncFailed(OctaneSyncError):
    """Some entities of a workspace failed; `summary` still says what each one did."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self) -> tuple:
        # Crosses process boundaries with dispatch="processes": keep the summary.
        return (type(self), (self.args[0], self.summary))


def failure_row(connection: str, workspace_id: str, entity: str, error: str) -> dict:
    """A summary row for a stream (or `*`: the whole workspace) that failed before it ran."""
    return {
        "connection": connection,
        "workspace_id": workspace_id,
        "entity": entity,
        "status": "failed",
        "error": error,
    }


@flow(
    name="octane-sync-workspace",
    flow_run_name="{connection}/{workspace_id}",
    description="Sync the entities of one Octane workspace into the target database.",
)
def octane_sync_workspace(
    connection: str,
    workspace_id: str,
    entities: list[str] | None = None,
    full_refresh: bool = False,
    database_block: str = DATABASE_BLOCK,
    key_block: str = KEY_BLOCK,
    reconcile_deletes: bool = False,
) -> dict:
    """Sign in (cached per connection), then sync each entity; one failing entity never
    stops the others, and the run fails at the end naming those that failed."""
    logger = get_run_logger()
    run_id = str(flow_run.id) if flow_run.id else None
    store = open_store(database_block)
    conn = require_connection(store, connection)
    summary: dict = {"connection": connection, "workspace_id": workspace_id, "entities": []}

    try:
        session = authenticate(conn, key_block)
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}")
        store.record_failure(
            connection=connection, workspace_id=workspace_id, error=message, flow_run_id=run_id
        )
        summary["entities"].append(failure_row(connection, workspace_id, "*", message))
        raise WorkspaceSyncFailed(
            f"{connection}/{workspace_id}: sign-in failed: {message}", summary
        ) from None

    failed = []
    for entity in entities or conn.entities:
        logger.info("Syncing %s of workspace %s (%s)", entity, workspace_id, connection)
        try:
            fields = None
            if conn.options.get("discover_fields", True):
                fields = discover_fields(conn, workspace_id, entity, session, key_block)
            result = sync_entity_task(
                connection,
                workspace_id,
                entity,
                session,
                database_block,
                key_block,
                full_refresh,
                run_id,
                available_fields=fields,
            )
            if reconcile_deletes or conn.options.get("reconcile_deletes", False):
                result["deleted"] = reconcile_deletes_task(
                    connection, workspace_id, entity, session, database_block, key_block
                )
        except StreamFailed as exc:  # already in the run log, with its counts
            logger.error("%s", redact(str(exc)))
            failed.append(entity)
            result = exc.result.as_dict()
        except Exception as exc:  # failed before its stream started: log it here
            message = redact(f"{type(exc).__name__}: {exc}")
            logger.error("%s of workspace %s failed: %s", entity, workspace_id, message)
            store.record_failure(
                connection=connection,
                workspace_id=workspace_id,
                entity=entity,
                error=message,
                flow_run_id=run_id,
            )
            failed.append(entity)
            result = failure_row(connection, workspace_id, entity, message)
        summary["entities"].append(result)

    if failed:
        raise WorkspaceSyncFailed(
            f"{connection}/{workspace_id}: {', '.join(failed)} failed", summary
        )
    return summary
