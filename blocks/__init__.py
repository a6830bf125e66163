"""The Prefect blocks octane-sync uses: their default names, how to create and load them.

| block type           | default name      | holds                                             |
|----------------------|-------------------|---------------------------------------------------|
| SqlAlchemyConnector  | `octane-sync-db`  | the target database, from ConnectionComponents    |
|                      |                   | (password a SecretStr, masked in the UI)          |
| Secret               | `octane-sync-key` | the Fernet keyring (comma-separated, newest first)|
|                      |                   | that encrypts OCTANE_CONNECTIONS.client_secret_enc|

Prefect encrypts block data at rest with `PREFECT_SERVER_ENCRYPTION_KEY`; set it before the
first block is created. Flow parameters carry these *names*, never the values.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url

DATABASE_BLOCK = "octane-sync-db"
KEY_BLOCK = "octane-sync-key"
DB_URL_ENV_VAR = "OCTANE_SYNC_DB_URL"


def connector_for_url(db_url: str):
    """A SqlAlchemyConnector built from the URL's parts, so the password is a SecretStr."""
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector

    url = make_url(db_url)
    components = ConnectionComponents(
        driver=url.drivername,
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
        query={key: str(value) for key, value in url.query.items()} or None,
    )
    return SqlAlchemyConnector(connection_info=components)


def create_blocks(db_url: str, keyring: str, *, overwrite: bool = False) -> tuple[str, str]:
    """Save the database block and the key block under their default names."""
    from prefect.blocks.system import Secret

    connector_for_url(db_url).save(DATABASE_BLOCK, overwrite=overwrite)
    Secret(value=keyring).save(KEY_BLOCK, overwrite=overwrite)
    return DATABASE_BLOCK, KEY_BLOCK


def save_keyring(keyring: str, block_name: str = KEY_BLOCK) -> None:
    from prefect.blocks.system import Secret

    Secret(value=keyring).save(block_name, overwrite=True)


def load_keyring(block_name: str = KEY_BLOCK) -> str:
    """The keyring text: `OCTANE_SYNC_KEY` when set (no server needed), else the Secret block."""
    from_env = os.environ.get("OCTANE_SYNC_KEY")
    if from_env:
        return from_env
    from prefect.blocks.system import Secret

    return str(Secret.load(block_name).get())


def load_database_url(block_name: str = DATABASE_BLOCK) -> URL:
    """The target database: `OCTANE_SYNC_DB_URL` when set, else the SqlAlchemyConnector block."""
    from_env = os.environ.get(DB_URL_ENV_VAR)
    if from_env:
        return make_url(from_env)
    from prefect_sqlalchemy import ConnectionComponents, SqlAlchemyConnector

    info = SqlAlchemyConnector.load(block_name).connection_info
    if isinstance(info, ConnectionComponents):
        return info.create_url()
    return make_url(str(info))
