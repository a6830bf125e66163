"""The `octane-sync` flow: every enabled connection, every workspace, bounded concurrency.

Read top to bottom, it is the story of a run: open the store, plan the (connection,
workspace) pairs, make sure the tables exist, sync the workspaces a few at a time while a
progress artifact moves, then publish a summary table and fail naming what failed.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import INPUTS, NO_CACHE, RUN_ID
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from blocks import DATABASE_BLOCK, KEY_BLOCK
from flows.runtime import open_store
from flows.tasks import authenticate, list_workspaces, prepare_tables
from flows.workspace import WorkspaceSyncFailed, failure_row, octane_sync_workspace
from octane_sync.errors import OctaneSyncError
from octane_sync.models import Connection
from octane_sync.redaction import redact

WORKSPACE_DEPLOYMENT = "octane-sync-workspace/workspace"


@task(name="plan-workspaces", cache_policy=NO_CACHE)
def plan_workspaces(
    database_block: str,
    key_block: str,
    connections: list[str] | None,
    workspaces: list[str] | None,
    only_failed: bool,
) -> tuple[list[Connection], list[tuple[str, str]], list[str]]:
    """Which (connection, workspace) pairs this run syncs; and connections that could not be
    expanded (their `*` needs a sign-in that failed)."""
    logger = get_run_logger()
    store = open_store(database_block)
    enabled = store.list_connections(enabled_only=True)
    if connections:
        known = {conn.name for conn in store.list_connections()}
        missing = sorted(set(connections) - known)
        if missing:
            raise OctaneSyncError(f"Unknown connection(s): {', '.join(missing)}")
        enabled = [conn for conn in enabled if conn.name in connections]
    failed_before = set(store.failed_workspaces()) if only_failed else None

    def wanted(conn_name: str, workspace_id: str) -> bool:
        if workspaces and workspace_id not in workspaces:
            return False
        if failed_before is None:
            return True
        return bool({(conn_name, workspace_id), (conn_name, "*")} & failed_before)

    pairs: list[tuple[str, str]] = []
    unreachable: list[str] = []
    for conn in enabled:
        ids = conn.workspaces
        if ids != ["*"] and not any(wanted(conn.name, ws) for ws in ids):
            continue
        try:
            # Once per connection, before the workspaces fan out: they all find it cached.
            session = authenticate(conn, key_block)
            if ids == ["*"]:
                ids = list_workspaces(conn, session, key_block)
        except Exception as exc:
            message = redact(f"{type(exc).__name__}: {exc}")
            if ids == ["*"]:
                logger.error("Cannot list the workspaces of %s: %s", conn.name, message)
                store.record_failure(
                    connection=conn.name, error=message, flow_run_id=str(flow_run.id)
                )
                unreachable.append(conn.name)
                continue
            # Each of its workspaces tries again and reports the failure in the run log.
            logger.warning("Sign-in for %s failed: %s", conn.name, message)
        pairs.extend((conn.name, ws) for ws in ids if wanted(conn.name, ws))
    logger.info(
        "Planned %d workspace(s) on %d connection(s)%s",
        len(pairs),
        len({name for name, _ in pairs}),
        " (only those that failed last time)" if only_failed else "",
    )
    return enabled, pairs, unreachable


@task(
    name="sync-workspace",
    task_run_name="{connection}/{workspace_id}",
    # Same parent run + same inputs = cached: a retried parent reruns only what failed.
    cache_policy=RUN_ID + INPUTS,
    persist_result=True,
)
def sync_workspace(
    connection: str,
    workspace_id: str,
    entities: list[str] | None,
    full_refresh: bool,
    database_block: str,
    key_block: str,
    dispatch: str,
    reconcile_deletes: bool = False,
) -> dict:
    """Run one workspace: in this process, or as its own flow run of the workspace deployment."""
    parameters = {
        "connection": connection,
        "workspace_id": workspace_id,
        "entities": entities,
        "full_refresh": full_refresh,
        "database_block": database_block,
        "key_block": key_block,
        "reconcile_deletes": reconcile_deletes,
    }
    if dispatch == "deployment":
        return run_workspace_deployment(parameters)
    return octane_sync_workspace(**parameters)


def run_workspace_deployment(parameters: dict) -> dict:
    """Run one workspace as a flow run of the workspace deployment and wait for it.

    Its summary is read back from the run log, not from a persisted result: the workspace
    may have run on another machine whose result storage this one cannot see.
    """
    from prefect.deployments import run_deployment

    connection, workspace_id = parameters["connection"], parameters["workspace_id"]
    child = run_deployment(
        WORKSPACE_DEPLOYMENT,
        parameters=parameters,
        flow_run_name=f"{connection}/{workspace_id}",
        timeout=None,
    )
    store = open_store(parameters["database_block"])
    entities = [
        {
            "connection": connection,
            "workspace_id": workspace_id,
            "entity": run["entity"],
            "status": run["status"],
            "fetched": run.get("rows_fetched") or 0,
            "written": run.get("rows_written") or 0,
            "rejected": run.get("rows_rejected") or 0,
            "error": run.get("error"),
        }
        for run in store.latest_runs([connection])
        if run["workspace_id"] == workspace_id and run.get("flow_run_id") == str(child.id)
    ]
    summary = {"connection": connection, "workspace_id": workspace_id, "entities": entities}
    state = child.state
    if state is None or not state.is_completed():
        raise WorkspaceSyncFailed(
            f"{connection}/{workspace_id}: workspace run {child.name} ended "
            f"{state.name if state else 'without a state'}",
            summary,
        )
    return summary


@flow(
    name="octane-sync",
    description="Incremental sync of ALM Octane workspaces into the target database.",
)
def octane_sync(
    database_block: str = DATABASE_BLOCK,
    key_block: str = KEY_BLOCK,
    connections: list[str] | None = None,
    workspaces: list[str] | None = None,
    entities: list[str] | None = None,
    only_failed: bool = False,
    full_refresh: bool = False,
    max_concurrency: int = 4,
    dispatch: Literal["local", "deployment"] = "local",
    reconcile_deletes: bool = False,
) -> State:
    """Sync every enabled connection's workspaces; parameters hold names, never secrets.

    Args:
        database_block: SqlAlchemyConnector block of the target database.
        key_block: Secret block with the Fernet keyring of the stored client secrets.
        connections: only these connections (default: every enabled one).
        workspaces: only these workspace ids.
        entities: only these entities (default: each connection's list).
        only_failed: only the (connection, workspace) pairs whose latest run failed.
        full_refresh: reset the watermarks and read everything again.
        max_concurrency: workspaces synced at the same time.
        dispatch: `local` runs workspaces in this process; `deployment` starts each as a
            flow run of the `octane-sync-workspace/workspace` deployment.
        reconcile_deletes: after syncing, list every id and mark the rows Octane no
            longer has as deleted (also per connection: options `reconcile_deletes`).
    """
    conns, pairs, unreachable = plan_workspaces(
        database_block, key_block, connections, workspaces, only_failed
    )
    if pairs:
        prepare_tables(database_block, conns, pairs, entities)

    rows, failed = sync_workspaces(
        pairs,
        max_concurrency,
        entities=entities,
        full_refresh=full_refresh,
        database_block=database_block,
        key_block=key_block,
        dispatch=dispatch,
        reconcile_deletes=reconcile_deletes,
    )
    failed += [f"{name}/*" for name in unreachable]

    create_table_artifact(
        key="octane-sync-summary",
        table=[summary_row(row) for row in rows],
        description=f"octane-sync run: {len(pairs)} workspace(s), {len(failed)} failed",
    )
    if failed:
        return Failed(message=f"{len(failed)} workspace(s) failed: {', '.join(sorted(failed))}")
    written = sum(row.get("written", 0) for row in rows)
    return Completed(message=f"{len(pairs)} workspace(s) synced, {written} row(s) written")


def sync_workspaces(
    pairs: list[tuple[str, str]], max_concurrency: int, **parameters: object
) -> tuple[list[dict], list[str]]:
    """Run `sync-workspace` for each pair, `max_concurrency` at a time, moving a progress
    artifact as they finish; one failing never stops the others.

    Returns:
        the summary rows of every stream, and the `connection/workspace` pairs that failed.
    """
    logger = get_run_logger()
    progress = create_progress_artifact(
        progress=0.0, description=f"Workspaces synced (of {len(pairs)})"
    )
    rows: list[dict] = []
    failed: list[str] = []
    with ThreadPoolTaskRunner(max_workers=max(1, max_concurrency)) as runner:
        futures = [
            runner.submit(
                sync_workspace,
                {"connection": name, "workspace_id": workspace_id, **parameters},
            )
            for name, workspace_id in pairs
        ]
        for done, future in enumerate(as_completed(futures), start=1):
            name, workspace_id = pairs[futures.index(future)]
            try:
                summary = future.result()
            except WorkspaceSyncFailed as exc:
                summary = exc.summary
                failed.append(f"{name}/{workspace_id}")
            except Exception as exc:
                message = redact(f"{type(exc).__name__}: {exc}")
                logger.error("%s/%s failed: %s", name, workspace_id, message)
                summary = {"entities": [failure_row(name, workspace_id, "*", message)]}
                failed.append(f"{name}/{workspace_id}")
            rows.extend(summary.get("entities", []))
            update_progress_artifact(progress, progress=100.0 * done / len(pairs))
            logger.info("%d of %d workspaces done (%s/%s)", done, len(pairs), name, workspace_id)
    return rows, failed


def summary_row(row: dict) -> dict:
    return {
        "connection": row.get("connection"),
        "workspace": row.get("workspace_id"),
        "entity": row.get("entity"),
        "fetched": row.get("fetched", 0),
        "written": row.get("written", 0),
        "rejected": row.get("rejected", 0),
        "deleted": row.get("deleted"),
        "seconds": round(row.get("seconds", 0.0), 2),
        "state": row.get("status"),
    }
