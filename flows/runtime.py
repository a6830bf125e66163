"""What the flows need to reach the outside: the store, the keyring, and an Octane client.

Only names travel in flow parameters; the values behind them are resolved here, inside
the run, from blocks (or the environment where no server is used).
"""

from __future__ import annotations

import json
import threading

from blocks import load_database_url, load_keyring
from octane_sync.client import OctaneClient
from octane_sync.errors import OctaneSyncError
from octane_sync.models import Connection
from octane_sync.redaction import register_secret
from octane_sync.secrets import SecretBox, parse_keyring
from octane_sync.store import Store

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(database_block: str) -> Store:
    """One Store (one engine, one pool) per database and process, shared by workspace threads."""
    url = load_database_url(database_block)
    key = url.render_as_string(hide_password=True)
    with _stores_lock:
        if key not in _stores:
            store = Store.from_url(url)
            store.init()
            _stores[key] = store
        return _stores[key]


def secret_box(key_block: str) -> SecretBox:
    return SecretBox(parse_keyring(load_keyring(key_block)))


def client_secret(connection: Connection, box: SecretBox) -> str:
    secret = box.decrypt(
        connection.client_secret_enc, what=f"client secret of connection {connection.name!r}"
    )
    register_secret(secret)
    return secret


def new_client(connection: Connection, box: SecretBox, session_token: str | None) -> OctaneClient:
    """A client for `connection`; with `session_token` it reuses a cached sign-in."""
    client = OctaneClient(
        connection.base_url,
        connection.shared_space_id,
        connection.client_id,
        client_secret(connection, box),
        page_size=int(connection.options.get("page_size", 1000)),
    )
    if session_token:
        state = json.loads(box.decrypt(session_token, what="cached Octane session"))
        register_session(state)
        client.restore_session(state)
    return client


def seal_session(client: OctaneClient, box: SecretBox) -> str:
    """The client's session, encrypted: this is what Prefect may persist for the cache."""
    state = client.export_session()
    register_session(state)
    return box.encrypt(json.dumps(state))


def register_session(state: dict) -> None:
    """Mask the session cookie wherever it might be printed (OCTANE_USER is just a name)."""
    for name, value in state.get("cookies", {}).items():
        if name != "OCTANE_USER":
            register_secret(value)


def require_connection(store: Store, name: str) -> Connection:
    connection = store.get_connection(name)
    if connection is None:
        raise OctaneSyncError(f"Unknown connection {name!r}: see `octane-sync connections list`")
    return connection
