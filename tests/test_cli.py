"""The `octane-sync` commands through typer's CliRunner: SQLite via --db, keys via $OCTANE_SYNC_KEY.

No Prefect server is needed: every command here reads the keyring from the environment and
the database from `--db`. Where a command would touch a Prefect block, the test replaces the
two functions of `blocks` it calls, or makes importing Prefect fail to prove it is not used.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer.main
from cryptography.fernet import Fernet
from typer.testing import CliRunner, Result

import blocks
from octane_sync.cli import app
from octane_sync.models import Connection, Watermark
from octane_sync.schema import WATERMARKS
from octane_sync.secrets import SecretBox, format_keyring, generate_key, parse_keyring
from octane_sync.store import Store
from octane_sync.watermarks import advance_watermark

ADD = [
    "connections",
    "add",
    "prod",
    "--base-url",
    "https://octane.example.com/",
    "--shared-space",
    "1001",
    "--client-id",
    "reporting_key",
    "--workspaces",
    "1002,1003",
    "--entities",
    "work_items,defects",
    "--options",
    '{"page_size": 500}',
]


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh keyring of one key, a wide console, and no stray database URL or secret."""
    key = generate_key()
    monkeypatch.setenv("OCTANE_SYNC_KEY", key)
    monkeypatch.setenv("COLUMNS", "200")  # Rich wraps at 80 columns otherwise
    monkeypatch.delenv("OCTANE_SYNC_DB_URL", raising=False)
    monkeypatch.delenv("OCTANE_CLIENT_SECRET", raising=False)
    return key


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite"


@pytest.fixture
def db(db_path: Path) -> str:
    return f"sqlite+pysqlite:///{db_path}"


@pytest.fixture
def secret() -> str:
    """A client secret unlike anything else in the database or the output."""
    return "cs-" + secrets.token_urlsafe(24)


@pytest.fixture
def store(db: str):
    store = Store.from_url(db)
    store.init()
    yield store
    store.dispose()


def invoke(*args: str, input: str | None = None, env: dict | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env=env)


def flat(text: str) -> str:
    """`text` without whitespace, so a value Rich wrapped across lines is still found."""
    return "".join(text.split())


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit code != 0 through typer.Exit / click (no traceback) and every fragment named."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert flat(fragment) in flat(result.output), result.output


def add_connection(db: str, secret: str, *extra: str, name: str = "prod") -> Result:
    args = [*ADD[:2], name, *ADD[3:], *extra, "--db", db]
    result = invoke(*args, env={"OCTANE_CLIENT_SECRET": secret})
    assert result.exit_code == 0, result.output
    return result


def db_bytes(db_path: Path) -> bytes:
    """The database file and its WAL and shared-memory files, where fresh writes sit."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


# ---- init and connections ----------------------------------------------------------------


def test_init_creates_the_control_tables_once(db: str) -> None:
    first, second = invoke("init", "--db", db), invoke("init", "--db", db)
    assert first.exit_code == 0, first.output
    assert "created OCTANE_CONNECTIONS" in first.output
    assert second.exit_code == 0, second.output
    assert "nothing to create" in second.output


def test_add_stores_only_a_token_that_opens_to_the_secret(
    db: str, db_path: Path, secret: str, cli_env: str
) -> None:
    added = add_connection(db, secret)
    outputs = [added.output]
    for args in (
        ["connections", "list"],
        ["connections", "disable", "prod"],
        ["connections", "enable", "prod"],
        ["status"],
    ):
        result = invoke(*args, "--db", db)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)

    stored = Store.from_url(db).get_connection("prod")
    assert stored is not None
    assert stored.client_secret_enc != secret
    assert SecretBox([cli_env]).decrypt(stored.client_secret_enc) == secret
    assert (stored.workspaces, stored.entities) == (["1002", "1003"], ["work_items", "defects"])
    assert stored.base_url == "https://octane.example.com"  # trailing slash dropped
    assert stored.options == {"page_size": 500}
    stored_bytes = db_bytes(db_path)
    assert stored.client_secret_enc.encode() in stored_bytes  # the bytes read hold the row
    assert secret.encode() not in stored_bytes
    for output in outputs:
        assert secret not in flat(output)
        assert stored.client_secret_enc not in flat(output)


def test_add_reads_the_secret_from_the_variable_named_by_secret_env(
    db: str, secret: str, cli_env: str
) -> None:
    args = [*ADD, "--secret-env", "PROD_OCTANE_SECRET", "--db", db]
    result = invoke(*args, env={"PROD_OCTANE_SECRET": secret})
    assert result.exit_code == 0, result.output
    stored = Store.from_url(db).get_connection("prod")
    assert SecretBox([cli_env]).decrypt(stored.client_secret_enc) == secret


def test_add_without_a_secret_and_no_terminal_refuses_and_changes_nothing(
    db: str, db_path: Path
) -> None:
    result = invoke(*ADD, "--db", db, input="typed-secret\n")
    assert_clean_failure(result, "$OCTANE_CLIENT_SECRET", "never taken from arguments")
    assert not db_path.exists()  # refused before the database was opened


def test_add_has_no_option_that_takes_the_secret_on_the_command_line(db: str) -> None:
    result = invoke(*ADD, "--client-secret", "s3cret", "--db", db)
    assert_clean_failure(result, "--client-secret")
    assert result.exit_code == 2  # click's usage error: no such option


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"--options": "{page_size: 5"}, ["--options", "not valid JSON"], id="json"),
        pytest.param({"--options": "[1, 2]"}, ["--options", "JSON object"], id="json-list"),
        pytest.param({"--entities": "work_items,bogus"}, ["bogus", "known:"], id="entity"),
        pytest.param({"--entities": " , "}, ["--entities names no entity"], id="no-entity"),
        pytest.param({"--base-url": "octane.example.com"}, ["--base-url"], id="no-scheme"),
        pytest.param({"--base-url": "ftp://octane.example.com"}, ["ftp://"], id="ftp"),
        pytest.param({"--base-url": "https://"}, ["--base-url", "'https://'"], id="no-host"),
        pytest.param({"--base-url": "https://h:port"}, ["'https://h:port'"], id="bad-port"),
        pytest.param({"--workspaces": "1002,abc"}, ["--workspaces", "'abc'"], id="workspace"),
        pytest.param({"--shared-space": "acme"}, ["--shared-space", "'acme'"], id="space"),
        pytest.param({"--workspaces": "1002,[/]"}, ["'[/]'"], id="markup-in-value"),
    ],
)
def test_add_names_the_bad_input(
    change: dict[str, str], named: list[str], db: str, db_path: Path, secret: str
) -> None:
    args = list(ADD)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    result = invoke(*args, "--db", db, env={"OCTANE_CLIENT_SECRET": secret})
    assert_clean_failure(result, *named)
    assert not db_path.exists()


def test_a_bad_base_url_is_echoed_without_its_password(db: str, secret: str) -> None:
    args = list(ADD)
    args[args.index("--base-url") + 1] = "https://admin:hunter2@octane.example.com"
    result = invoke(*args, "--db", db, env={"OCTANE_CLIENT_SECRET": secret})
    assert_clean_failure(result, "--base-url", "octane.example.com")
    assert "hunter2" not in result.output


def test_add_refuses_a_taken_name_unless_replace(db: str, secret: str, cli_env: str) -> None:
    add_connection(db, secret)
    again = invoke(*ADD, "--db", db, env={"OCTANE_CLIENT_SECRET": "other"})
    assert_clean_failure(again, "'prod' exists already", "--replace")

    replaced = invoke(
        *ADD, "--replace", "--workspaces", "*", "--db", db, env={"OCTANE_CLIENT_SECRET": "new"}
    )
    assert replaced.exit_code == 0, replaced.output
    assert "Replaced connection prod" in replaced.output
    stored = Store.from_url(db).get_connection("prod")
    assert stored.workspaces == ["*"]
    assert SecretBox([cli_env]).decrypt(stored.client_secret_enc) == "new"


def test_replace_of_a_new_name_just_adds_it(db: str, secret: str) -> None:
    result = invoke(*ADD, "--replace", "--db", db, env={"OCTANE_CLIENT_SECRET": secret})
    assert result.exit_code == 0, result.output
    assert "Added connection prod" in result.output


def test_list_shows_the_connections_but_no_secret(db: str, secret: str) -> None:
    empty = invoke("connections", "list", "--db", db)
    assert empty.exit_code == 0, empty.output
    assert "No connections" in empty.output
    add_connection(db, secret)
    add_connection(db, secret, name="lab[eu]")  # brackets are text, not Rich markup

    listed = invoke("connections", "list", "--db", db)
    assert listed.exit_code == 0, listed.output
    for shown in ("prod", "lab[eu]", "https://octane.example.com", "reporting_key", "1002,1003"):
        assert shown in listed.output
    assert secret not in flat(listed.output)
    assert "gAAAAA" not in listed.output  # every Fernet token starts so


def test_disable_and_enable_flip_the_flag(db: str, secret: str) -> None:
    add_connection(db, secret)
    disabled = invoke("connections", "disable", "prod", "--db", db)
    assert disabled.exit_code == 0, disabled.output
    assert Store.from_url(db).list_connections(enabled_only=True) == []
    enabled = invoke("connections", "enable", "prod", "--db", db)
    assert enabled.exit_code == 0, enabled.output
    assert [c.name for c in Store.from_url(db).list_connections(enabled_only=True)] == ["prod"]


def test_remove_asks_for_yes_without_a_terminal(db: str, secret: str) -> None:
    add_connection(db, secret)
    refused = invoke("connections", "remove", "prod", "--db", db)
    assert_clean_failure(refused, "--yes")
    assert Store.from_url(db).get_connection("prod") is not None
    removed = invoke("connections", "remove", "prod", "--yes", "--db", db)
    assert removed.exit_code == 0, removed.output
    assert Store.from_url(db).get_connection("prod") is None


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["enable"], id="enable"),
        pytest.param(["disable"], id="disable"),
        pytest.param(["remove", "--yes"], id="remove"),
    ],
)
def test_an_unknown_connection_is_named(command: list[str], db: str) -> None:
    result = invoke("connections", command[0], "ghost", *command[1:], "--db", db)
    assert_clean_failure(result, "no connection named 'ghost'", "connections list")


def test_the_database_comes_from_the_environment_without_db(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocks, "load_database_url", None)  # the block must not be asked
    result = invoke("connections", "list", env={"OCTANE_SYNC_DB_URL": db})
    assert result.exit_code == 0, result.output
    assert "No connections in sqlite" in result.output


def test_a_bad_database_url_is_named_without_its_password() -> None:
    result = invoke("connections", "list", "--db", "mysql://admin:s3cr3t@db.example.com/x")
    assert_clean_failure(result, "db.example.com")
    assert "s3cr3t" not in result.output


def test_a_missing_database_block_says_how_to_give_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def load_database_url(name: str) -> str:
        raise ValueError(f"Unable to find block document named {name}")

    monkeypatch.setattr(blocks, "load_database_url", load_database_url)
    result = invoke("status")
    assert_clean_failure(result, "database block 'octane-sync-db'", "--db URL", "blocks create")


# ---- keys and secrets --------------------------------------------------------------------


def test_key_generate_prints_a_fresh_fernet_key() -> None:
    first, second = invoke("key", "generate"), invoke("key", "generate")
    assert first.exit_code == 0, first.output
    key = first.stdout.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert key != second.stdout.strip()


def tokens(db: str) -> dict[str, str]:
    return {c.name: c.client_secret_enc for c in Store.from_url(db).list_connections()}


def test_key_rotate_with_the_env_keyring_never_leaves_a_secret_unreadable(
    db: str, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = {"prod": "secret-prod-1", "lab": "secret-lab-2"}
    for name, value in plain.items():
        add_connection(db, value, name=name)
    before = tokens(db)

    # Step 1: a new keyring on stdout, alone; nothing stored changes yet.
    step1 = invoke("key", "rotate", "--db", db)
    assert step1.exit_code == 0, step1.output
    ring = parse_keyring(step1.stdout.strip())
    assert len(ring) == 2 and ring[1] == cli_env and ring[0] != cli_env
    assert "Step 1 of 2" in step1.stderr and "--reencrypt-only" in step1.stderr
    assert tokens(db) == before
    for name, token in before.items():
        assert SecretBox([cli_env]).decrypt(token) == plain[name]  # the configured key
        assert SecretBox(ring).decrypt(token) == plain[name]  # and the new ring

    retire_early = invoke("key", "retire", "--db", db, env={"OCTANE_SYNC_KEY": step1.stdout})
    assert_clean_failure(retire_early, "lab, prod", "--reencrypt-only")

    # Step 2: with the new keyring configured, re-encrypt under its newest key.
    monkeypatch.setenv("OCTANE_SYNC_KEY", format_keyring(ring))
    step2 = invoke("key", "rotate", "--reencrypt-only", "--db", db)
    assert step2.exit_code == 0, step2.output
    assert "Re-encrypted 2 stored secret(s)" in step2.stderr
    after = tokens(db)
    for name, token in after.items():
        assert SecretBox([ring[0]]).decrypt(token) == plain[name]  # new key alone
        assert SecretBox(ring).decrypt(token) == plain[name]
    again = invoke("key", "rotate", "--reencrypt-only", "--db", db)
    assert "Re-encrypted 0 stored secret(s)" in again.stderr
    assert tokens(db) == after

    retired = invoke("key", "retire", "--db", db)
    assert retired.exit_code == 0, retired.output
    assert retired.stdout.strip() == ring[0]
    for result in (step1, step2, again, retired):
        assert not any(value in result.output for value in plain.values())


def test_key_rotate_saves_the_block_before_it_reencrypts(
    db: str, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_connection(db, "secret-prod-1")
    before = tokens(db)
    block = {"octane-sync-key": cli_env}
    seen_at_save: list[dict[str, str]] = []

    def save_keyring(keyring: str, block_name: str = "octane-sync-key") -> None:
        seen_at_save.append(tokens(db))
        block[block_name] = keyring

    monkeypatch.delenv("OCTANE_SYNC_KEY")
    monkeypatch.setattr(blocks, "load_keyring", lambda name="octane-sync-key": block[name])
    monkeypatch.setattr(blocks, "save_keyring", save_keyring)

    result = invoke("key", "rotate", "--db", db)
    assert result.exit_code == 0, result.output
    assert seen_at_save == [before]  # the ring was saved while every token was the old one
    ring = parse_keyring(block["octane-sync-key"])
    assert ring[1:] == [cli_env]
    assert SecretBox([ring[0]]).decrypt(tokens(db)["prod"]) == "secret-prod-1"
    assert ring[0] not in result.output  # a block-held key is never printed

    retired = invoke("key", "retire", "--db", db)
    assert retired.exit_code == 0, retired.output
    assert block["octane-sync-key"] == ring[0]


def test_key_rotate_keeps_the_secrets_when_the_block_cannot_be_saved(
    db: str, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_connection(db, "secret-prod-1")
    before = tokens(db)

    def save_keyring(keyring: str, block_name: str = "octane-sync-key") -> None:
        raise ConnectionError(f"server down while saving {keyring}")

    monkeypatch.delenv("OCTANE_SYNC_KEY")
    monkeypatch.setattr(blocks, "load_keyring", lambda name="octane-sync-key": cli_env)
    monkeypatch.setattr(blocks, "save_keyring", save_keyring)
    result = invoke("key", "rotate", "--db", db)
    assert_clean_failure(result, "cannot save the new keyring", "ConnectionError")
    assert cli_env not in result.output  # the exception's text held the keyring
    assert tokens(db) == before


def test_reencrypt_is_all_or_nothing_and_names_the_secret_no_key_opens(
    db: str, store: Store, cli_env: str
) -> None:
    add_connection(db, "secret-prod-1")
    foreign = Connection(
        name="stray",
        base_url="https://octane.example.com",
        shared_space_id="1001",
        client_id="other",
        client_secret_enc=SecretBox([generate_key()]).encrypt("not ours"),
    )
    store.add_connection(foreign)
    before = tokens(db)
    ring = format_keyring([generate_key(), cli_env])
    result = invoke("key", "rotate", "--reencrypt-only", "--db", db, env={"OCTANE_SYNC_KEY": ring})
    assert_clean_failure(result, "connection 'stray'", "No stored secret was changed")
    assert tokens(db) == before


def test_key_retire_with_one_key_has_nothing_to_do(db: str) -> None:
    result = invoke("key", "retire", "--db", db)
    assert result.exit_code == 0, result.output
    assert "nothing to retire" in result.stderr
    assert result.stdout == ""


def test_secrets_encrypt_then_decrypt_round_trips(cli_env: str) -> None:
    encrypted = invoke("secrets", "encrypt", input="p@ss wörd\n")
    assert encrypted.exit_code == 0, encrypted.output
    token = encrypted.stdout.strip()
    assert "p@ss" not in token
    assert SecretBox([cli_env]).decrypt(token) == "p@ss wörd"
    by_argument = invoke("secrets", "decrypt", token)
    by_stdin = invoke("secrets", "decrypt", input=token + "\n")
    assert by_argument.stdout == by_stdin.stdout == "p@ss wörd\n"


def test_decrypting_with_a_wrong_key_fails_without_the_plaintext(cli_env: str) -> None:
    token = SecretBox([cli_env]).encrypt("top-secret-value")
    result = invoke("secrets", "decrypt", token, env={"OCTANE_SYNC_KEY": generate_key()})
    assert_clean_failure(result, "Cannot decrypt the token")
    assert "top-secret-value" not in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param(["secrets", "encrypt"], "nothing to encrypt", id="encrypt"),
        pytest.param(["secrets", "decrypt"], "no token to decrypt", id="decrypt"),
    ],
)
def test_empty_stdin_is_refused(args: list[str], named: str) -> None:
    assert_clean_failure(invoke(*args, input=""), named)


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        pytest.param(["secrets", "encrypt"], "x", id="secrets-encrypt"),
        pytest.param(["key", "rotate", "--db", "sqlite://"], None, id="key-rotate"),
        pytest.param([*ADD, "--db", "sqlite://"], None, id="connections-add"),
    ],
)
def test_a_malformed_keyring_is_a_clean_error_that_hides_the_key(
    args: list[str], stdin: str | None
) -> None:
    bad = "not-a-fernet-key-1234"
    result = invoke(*args, input=stdin, env={"OCTANE_SYNC_KEY": bad, "OCTANE_CLIENT_SECRET": "x"})
    assert_clean_failure(result, "not a valid Fernet key")
    assert bad not in result.output


@pytest.mark.parametrize(
    ("env", "db_url", "named"),
    [
        pytest.param({"OCTANE_SYNC_KEY": "bad-key"}, "sqlite://", "$OCTANE_SYNC_KEY", id="bad-key"),
        pytest.param({}, "mysql://u:pw9@db.example.com/x", "mysql://u:***@db", id="dialect"),
        pytest.param({}, "not a url at all", "not a database URL", id="not-a-url"),
    ],
)
def test_blocks_create_checks_its_input_before_prefect(
    env: dict, db_url: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prefect.blocks.system", None)  # importing it fails
    monkeypatch.setitem(sys.modules, "prefect_sqlalchemy", None)
    result = invoke("blocks", "create", "--db-url", db_url, env=env)
    assert_clean_failure(result, named)
    assert "pw9" not in result.output and "bad-key" not in result.output


# ---- status, reset, run ------------------------------------------------------------------


def test_status_on_an_empty_database_says_so(db: str) -> None:
    result = invoke("status", "--db", db)
    assert result.exit_code == 0, result.output
    assert "No runs logged yet" in result.output


def test_status_lists_failures_first_and_how_to_rerun(db: str, store: Store) -> None:
    ok = store.start_run(connection="prod", workspace_id="1002", entity="work_items")
    mark = Watermark(datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "1234")
    store.finish_run(ok, fetched=12, written=11, rejected=1, watermark_after=mark)
    bad = store.start_run(connection="prod", workspace_id="1003", entity="work_items")
    store.fail_run(bad, "HTTP 500 from [server] /defects")

    result = invoke("status", "--db", db)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("1003") < out.index("1002")  # failures first
    assert "2024-05-01T10:00:00Z#1234" in out
    assert "HTTP 500 from [server] /defects" in out  # brackets shown, not eaten as markup
    assert "Failed in their latest run: prod/1003" in out
    assert "--only-failed" in out


@pytest.fixture
def watermarks(store: Store) -> Store:
    """Watermarks for prod/1002, prod/1003 and lab/2001 (work_items)."""
    mark = Watermark(datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "7")
    with store.transaction() as conn:
        for connection, workspace in (("prod", "1002"), ("prod", "1003"), ("lab", "2001")):
            table = store.tables[WATERMARKS]
            advance_watermark(conn, table, connection, workspace, "work_items", mark, None)
    return store


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param([], "--connection NAME", id="no-scope"),
        pytest.param(["--workspace", "1002"], "--connection NAME", id="workspace-alone"),
        pytest.param(["--all", "--connection", "prod"], "leave out --connection", id="all-and"),
        pytest.param(["--connection", "prod"], "--yes", id="no-yes"),
    ],
)
def test_reset_refuses_an_unclear_or_unconfirmed_scope(
    args: list[str], named: str, db: str, watermarks: Store
) -> None:
    assert_clean_failure(invoke("reset", *args, "--db", db), named)
    assert watermarks.read_watermark("prod", "1002", "work_items") is not None


def test_reset_forgets_only_the_watermarks_in_scope(db: str, watermarks: Store) -> None:
    one = invoke("reset", "--connection", "prod", "--workspace", "1002", "--yes", "--db", db)
    assert one.exit_code == 0, one.output
    assert "Reset 1 watermark(s) (prod workspace 1002)" in one.output
    assert watermarks.read_watermark("prod", "1002", "work_items") is None
    assert watermarks.read_watermark("prod", "1003", "work_items") is not None

    none = invoke("reset", "--connection", "ghost", "--yes", "--db", db)
    assert none.exit_code == 0, none.output
    assert "No watermark matched (ghost)" in none.output

    everything = invoke("reset", "--all", "--yes", "--db", db)
    assert everything.exit_code == 0, everything.output
    assert "Reset 2 watermark(s)" in everything.output
    assert watermarks.read_watermark("lab", "2001", "work_items") is None


def test_run_rejects_max_concurrency_0_before_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "flows.parent", None)  # importing it fails
    result = invoke("run", "--max-concurrency", "0")
    assert_clean_failure(result, "--max-concurrency")
    assert result.exit_code == 2


def _command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under `command` (typer brings its own click: no isinstance)."""
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*prefix, name))
    return paths


HELP_PATHS = _command_paths(typer.main.get_command(app))


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, id=" ".join(path) or "octane-sync") for path in HELP_PATHS],
)
def test_help_of_every_command_and_group(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_help_walk_reaches_the_commands() -> None:
    assert {("connections", "add"), ("key", "rotate"), ("secrets", "decrypt"), ("run",)} <= set(
        HELP_PATHS
    )
