"""OctaneClient: the only code that talks to Octane (sign-in, cookies, retries, keyset paging)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import quote, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from octane_sync.errors import (
    AuthenticationError,
    OctaneError,
    OctaneRequestError,
    TransientError,
)
from octane_sync.models import Watermark, parse_octane_time, utc
from octane_sync.paging import ChangesPager, IdPager, is_last_page
from octane_sync.query import Query, field
from octane_sync.redaction import redact, redact_url, register_secret
from octane_sync.retry import (
    Action,
    RetryPolicy,
    classify,
    error_details,
    page_size_after,
    parse_retry_after,
)

log = logging.getLogger("octane_sync.client")

SESSION_COOKIE = "LWSSO_COOKIE_KEY"
USER_COOKIE = "OCTANE_USER"
# Every change page carries what the watermark and the idempotent upsert need.
ALWAYS_FIELDS = ("id", "last_modified", "version_stamp")
# Room for ~8 workspaces read concurrently, each with a read-ahead request in flight.
POOL_SIZE = 16
_COLLECTION = re.compile(r"[a-z][a-z_]*")
_ENTITY_TYPE = re.compile(r"[a-z][a-z_]*")
_FIELD_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\{[A-Za-z_][A-Za-z0-9_,]*\})?")
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def new_session() -> requests.Session:
    """A `requests.Session` with a connection pool sized for one connection's workspaces.

    Retries are the client's job (with its policy and logging), so the adapter makes none.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"Accept": "application/json", "Accept-Encoding": "gzip, deflate"})
    return session


class OctaneClient:
    """A client for one API key on one shared space, shared by that space's workspaces.

    Signs in lazily and again once when a request answers 401, takes rotated session
    cookies from any response, retries transient failures by its `RetryPolicy`, and reads
    changes with keyset paging. Safe to share between threads: one sign-in at a time,
    and concurrent 401s cause a single new sign-in.

    Example:

        with OctaneClient("https://octane.example.com", 1001, "api-key", secret) as client:
            for ws in client.list_workspaces():
                for page in client.iter_changes(ws["id"], "defects", since=watermark):
                    ...

    Args:
        base_url: the server, e.g. `https://octane.example.com` (no `/api`).
        shared_space_id: the shared space the key belongs to.
        client_id: the API access key's client id.
        client_secret: its secret; registered with `redaction` so it never shows up in text.
        session: a session to use instead of a new pooled one (it is not closed by `close`).
        retry: the retry policy for transient failures.
        page_size: default rows per page (`limit`).
        timeout: seconds to wait for the server on each request.
        read_ahead: default for `iter_changes`: fetch the next page while the caller
            works on the current one.
    """

    def __init__(
        self,
        base_url: str,
        shared_space_id: str | int,
        client_id: str,
        client_secret: str,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = 1000,
        timeout: float = 60.0,
        read_ahead: bool = False,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.shared_space_id = str(shared_space_id)
        self.client_id = client_id
        self._client_secret = client_secret
        register_secret(client_secret)
        self._owns_session = session is None
        self._session = session if session is not None else new_session()
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.timeout = timeout
        self.read_ahead = read_ahead
        self._auth_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._signed_in = False
        self._generation = 0  # bumped by each sign-in, so concurrent 401s renew once
        self._clock_offset: float | None = None
        self._request_count = 0
        self._learned_max_page_size: int | None = None

    @property
    def _server(self) -> str:
        return redact_url(self.base_url)

    def __repr__(self) -> str:
        return (
            f"OctaneClient({self._server!r}, shared_space_id={self.shared_space_id!r}, "
            f"client_id={self.client_id!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pool. Does not sign out: an exported session stays valid."""
        if self._owns_session:
            self._session.close()

    @property
    def request_count(self) -> int:
        """Requests sent so far, sign-ins and retries included (for benchmarks and tests)."""
        return self._request_count

    # -- authentication ----------------------------------------------------------------------

    def sign_in(self) -> None:
        """Sign in now with the API key, replacing any session.

        Raises:
            AuthenticationError: Octane refused the key (the message names the server and
                the client id, never the secret).
            TransientError: the server could not be reached within the retry policy.
        """
        with self._auth_lock:
            self._sign_in_locked()

    def sign_out(self) -> None:
        """End the session on the server (best effort) and forget its cookies."""
        with self._auth_lock:
            if self._signed_in:
                try:
                    self._send(
                        "POST", self._url("authentication/sign_out"), auth=False, parse=False
                    )
                except OctaneError as exc:
                    log.warning("Signing out of %s failed: %s", self._server, redact(exc))
            self._session.cookies.clear()
            self._signed_in = False

    def export_session(self) -> dict:
        """The session's cookies and learned clock offset, to reuse the sign-in elsewhere.

        The cookies are credentials: the caller must encrypt what this returns.
        """
        cookies = {cookie.name: cookie.value for cookie in self._session.cookies}
        return {"cookies": cookies, "clock_offset": self._clock_offset}

    def restore_session(self, state: dict) -> None:
        """Adopt a session from `export_session`; no request is made.

        If the session has expired meanwhile, the first request answers 401 and the client
        signs in again as usual.
        """
        cookies = state.get("cookies") or {}
        domain = _cookie_domain(self.base_url)
        with self._auth_lock:
            self._session.cookies.clear()
            for name, value in cookies.items():
                if name != USER_COOKIE:  # the user name, which messages may show
                    register_secret(value)
                self._session.cookies.set(name, value, domain=domain, path="/")
            self._signed_in = SESSION_COOKIE in cookies
            self._generation += 1
        offset = state.get("clock_offset")
        if isinstance(offset, int | float):
            self._clock_offset = float(offset)

    def _sign_in_locked(self) -> None:
        # Old cookies sent along can make a sign-in fail (octane-api.md): start clean.
        self._session.cookies.clear()
        self._signed_in = False
        url = self._url("authentication/sign_in")
        body = {"client_id": self.client_id, "client_secret": self._client_secret}
        try:
            self._send("POST", url, json_body=body, auth=False, parse=False)
        except OctaneRequestError as exc:
            if exc.status is None:
                raise
            raise AuthenticationError(
                f"Sign-in to {self._server} as client id {self.client_id!r} was refused: "
                f"HTTP {exc.status}{_code_text(exc.error_code)}",
                url=exc.url,
                status=exc.status,
                error_code=exc.error_code,
                correlation_id=exc.correlation_id,
            ) from None
        if SESSION_COOKIE not in self._session.cookies:
            raise AuthenticationError(
                f"Sign-in to {self._server} as client id {self.client_id!r} set no "
                f"{SESSION_COOKIE} cookie",
                url=redact_url(url),
            )
        self._signed_in = True
        self._generation += 1
        log.debug("Signed in to %s as %s", self._server, self.client_id)

    def _ensure_signed_in(self) -> int:
        if not self._signed_in:
            with self._auth_lock:
                if not self._signed_in:
                    self._sign_in_locked()
        return self._generation

    def _renew(self, generation: int) -> None:
        """Sign in again unless another thread already did since `generation`."""
        with self._auth_lock:
            if self._generation == generation:
                self._sign_in_locked()

    # -- transport -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _space_url(self, *parts: str) -> str:
        quoted = "/".join(quote(str(part), safe="") for part in parts)
        return self._url(f"api/shared_spaces/{quote(self.shared_space_id, safe='')}/{quoted}")

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        json_body: dict | None = None,
        auth: bool = True,
        parse: bool = True,
    ) -> Any:
        """Send one request, retrying transient failures and signing in again once on 401.

        Returns the decoded JSON body (None when `parse` is false).
        """
        started = time.monotonic()
        attempt = 0
        signed_in_again = False
        while True:
            generation = self._ensure_signed_in() if auth else self._generation
            attempt += 1
            retry_after: float | None = None
            status: int | None = None
            with self._state_lock:
                self._request_count += 1
            try:
                response = self._session.request(
                    method, url, params=params, json=json_body, timeout=self.timeout
                )
            except requests.exceptions.SSLError as exc:
                raise OctaneRequestError(
                    f"{method} {_display_url(method, url, params)}: TLS failed: {redact(exc)}",
                    url=_display_url(method, url, params),
                ) from None
            except _TRANSIENT_EXCEPTIONS as exc:
                reason = type(exc).__name__
            else:
                self._observe_clock(response)
                status = response.status_code
                action = classify(status, response.headers.get("Content-Type"))
                if action is Action.OK:
                    if not parse:
                        return None
                    try:
                        return orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        reason = f"HTTP {status} with a truncated or malformed JSON body"
                elif action is Action.SIGN_IN and auth and not signed_in_again:
                    signed_in_again = True
                    log.info(
                        "Session on %s expired (%s); signing in again",
                        self._server,
                        error_details(response.content)[0] or "HTTP 401",
                    )
                    self._renew(generation)
                    continue
                elif action is Action.SIGN_IN and auth:
                    raise self._error(AuthenticationError, method, url, params, response)
                elif action is Action.RETRY:
                    reason = f"HTTP {status}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    raise self._error(OctaneRequestError, method, url, params, response)
            elapsed = time.monotonic() - started
            delay = self.retry.delay(attempt, elapsed, retry_after)
            shown = _display_url(method, url, params)
            if delay is None:
                raise TransientError(
                    f"{method} {shown} still failing after {attempt} attempt(s) in "
                    f"{elapsed:.1f} s: {reason}",
                    url=shown,
                    status=status,
                )
            log.warning(
                "%s %s failed (%s); retry %d of %d in %.2f s",
                method,
                shown,
                reason,
                attempt,
                self.retry.max_attempts - 1,
                delay,
            )
            self.retry.sleep(delay)

    def _error(
        self,
        kind: type[OctaneError],
        method: str,
        url: str,
        params: dict | None,
        response: requests.Response,
    ) -> OctaneError:
        error_code, correlation_id, description, properties = error_details(response.content)
        shown = _display_url(method, url, params)
        if kind is AuthenticationError:
            message = (
                f"Octane at {self._server} refused client id {self.client_id!r} "
                f"even after signing in again: HTTP {response.status_code}"
                f"{_code_text(error_code)} on {method} {shown}"
            )
        else:
            message = (
                f"{method} {shown} failed: HTTP {response.status_code}{_code_text(error_code)}"
            )
            if description:
                message += f": {redact(description)}"
        if correlation_id:
            message += f" (correlation_id {correlation_id})"
        error = kind(
            message,
            url=shown,
            status=response.status_code,
            error_code=error_code,
            correlation_id=correlation_id,
        )
        error.properties = properties  # type: ignore[attr-defined]  # for page_size_after
        return error

    def _observe_clock(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            server = utc(parsedate_to_datetime(header))
        except (TypeError, ValueError, IndexError):
            return
        self._clock_offset = server.timestamp() - time.time()

    # -- reading ---------------------------------------------------------------------------------

    def server_time(self) -> datetime:
        """Octane's clock now, from the `Date` header of the latest response.

        Makes a request only when no response was ever seen (a sign-in counts), so a run
        that finds no change costs one page request per stream.

        Returns:
            An aware UTC datetime.
        """
        if self._clock_offset is None:
            if not self._signed_in:
                self._ensure_signed_in()
            if self._clock_offset is None:
                self._send("GET", self._space_url("workspaces"), params={"limit": 1})
        offset = self._clock_offset
        if offset is None:
            log.warning("%s sends no Date header; using the local clock", self._server)
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)

    def list_workspaces(self) -> list[dict]:
        """Every workspace of the shared space this key can see, all pages.

        Offset paging is fine here: a workspace list is short and does not change mid-read.

        Returns:
            `[{"id": "1002", "name": ...}, ...]` ordered by id.
        """
        url = self._space_url("workspaces")
        limit = self._limit(None)
        workspaces: list[dict] = []
        while True:
            params = {
                "fields": "id,name",
                "order_by": "id",
                "limit": limit,
                "offset": len(workspaces),
            }
            rows, limit, total = self._fetch(url, params)
            offset = len(workspaces)
            workspaces.extend({**row, "id": str(row["id"])} for row in rows)
            if is_last_page(rows, limit, total, offset=offset):
                return workspaces

    def count(
        self, workspace_id: str | int, collection: str, query: Query | str | None = None
    ) -> int:
        """How many entities of `collection` match `query` (one `limit=1` request).

        Args:
            workspace_id: the workspace.
            collection: e.g. `defects`.
            query: a `query.Query`, or its text as `query.py` built it.
        """
        params: dict[str, Any] = {"fields": "id", "limit": 1}
        if query is not None:
            params["query"] = query.param() if isinstance(query, Query) else f'"{query}"'
        body = self._send("GET", self._collection_url(workspace_id, collection), params=params)
        total = body.get("total_count") if isinstance(body, dict) else None
        if not isinstance(total, int):
            raise OctaneRequestError(
                f"Octane answered a count of {collection} without a total_count",
                url=redact_url(self._collection_url(workspace_id, collection)),
            )
        return total

    def field_names(self, workspace_id: str | int, entity_type: str) -> set[str]:
        """The fields `entity_type` has in this workspace, from Octane's metadata API.

        Workspaces differ in their fields (above all `_udf` ones), and whether Octane
        refuses an unknown name in `fields=` is undocumented; asking only for fields
        listed here is safe either way. One request: the metadata API does not page.

        Args:
            workspace_id: the workspace.
            entity_type: the entity type, not the collection: `defect`, `work_item`
                (see `models.entity_type`).

        Returns:
            Field names, user-defined ones included, e.g. `{"id", "name", "team_udf", ...}`.

        Raises:
            OctaneRequestError: the server refused the request, answered without a
                field list, or listed no field at all (an entity type it does not know).
            TransientError: a transient failure outlived the retry policy.
            AuthenticationError: the key no longer signs in.
        """
        if not _ENTITY_TYPE.fullmatch(entity_type):
            raise ValueError(f"not an Octane entity type: {entity_type!r}")
        url = self._space_url("workspaces", str(workspace_id), "metadata", "fields")
        params = {"query": field("entity_name").eq(entity_type).param()}
        body = self._send("GET", url, params=params)
        rows = body.get("data") if isinstance(body, dict) else None
        shown = _display_url("GET", url, params)
        if not isinstance(rows, list):
            raise OctaneRequestError(f"GET {shown} answered without a data list", url=shown)
        # Filter again: a server that ignored the query must not lend other types' fields.
        names = {
            row["name"]
            for row in rows
            if isinstance(row, dict)
            and isinstance(row.get("name"), str)
            and row.get("entity_name", entity_type) == entity_type
        }
        if not names:
            raise OctaneRequestError(
                f"GET {shown} listed no field of entity type {entity_type!r} "
                "(is it an entity type, not a collection?)",
                url=shown,
            )
        return names

    def iter_ids(self, workspace_id: str | int, collection: str) -> Iterator[str]:
        """Every id of `collection`, ascending, for delete detection (keyset on id)."""
        url = self._collection_url(workspace_id, collection)
        for page in self._pages(url, IdPager(), "id", self._limit(None), read_ahead=False):
            for row in page:
                yield str(row["id"])

    def iter_changes(
        self,
        workspace_id: str | int,
        collection: str,
        *,
        since: Watermark | None = None,
        until: datetime | None = None,
        fields: Sequence[str] | None = None,
        page_size: int | None = None,
        overlap: timedelta = timedelta(0),
        read_ahead: bool | None = None,
        lag: timedelta | None = None,
    ) -> Iterator[list[dict]]:
        """Pages of entities changed after `since`, in `(last_modified, id)` order.

        Keyset paging: each page starts strictly after the previous page's last row, so a
        bulk edit of thousands of rows in one second is read exactly once, and rows edited
        while reading move to the end instead of being skipped.

        Args:
            workspace_id: the workspace.
            collection: e.g. `work_items`, `defects`.
            since: continue after this watermark (None: from the beginning).
            until: read nothing modified after this (e.g. server time minus a lag).
            fields: fields to ask for; id, last_modified and version_stamp are added.
            page_size: rows per page (default: the client's); lowered by itself when
                the server rejects it.
            overlap: with `since`, start this much earlier and read those rows again.
            read_ahead: fetch the next page while the caller works on this one
                (default: the client's setting).
            lag: instead of `until`, read nothing modified after the server's clock (the
                `Date` of the first page's response) minus `lag`, so rows still being
                committed are read next time. Costs no extra request: the first page is
                asked without an upper bound and cut at it.

        Yields:
            Non-empty lists of entity dicts.

        Raises:
            OctaneRequestError: the server refused the request (bad field, 403, ...).
            TransientError: a transient failure outlived the retry policy.
            AuthenticationError: the key no longer signs in.
            OctaneError: the server did not honour the keyset order (loop detection).
        """
        url = self._collection_url(workspace_id, collection)
        if until is not None and lag is not None:
            raise ValueError("give until or lag, not both")
        pager = ChangesPager(since=since, until=until, overlap=overlap)
        field_list = _field_list(fields)
        ahead = self.read_ahead if read_ahead is None else read_ahead
        limit = self._limit(page_size)
        yield from self._pages(url, pager, field_list, limit, read_ahead=ahead, lag=lag)

    def _collection_url(self, workspace_id: str | int, collection: str) -> str:
        if not _COLLECTION.fullmatch(collection):
            raise ValueError(f"not an Octane collection name: {collection!r}")
        return self._space_url("workspaces", str(workspace_id), collection)

    def _limit(self, page_size: int | None) -> int:
        limit = self.page_size if page_size is None else page_size
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        learned = self._learned_max_page_size
        return min(limit, learned) if learned else limit

    def _pages(
        self,
        url: str,
        pager: ChangesPager | IdPager,
        fields: str,
        limit: int,
        *,
        read_ahead: bool,
        lag: timedelta | None = None,
    ) -> Iterator[list[dict]]:
        def fetch(query: Query | None, limit: int) -> tuple[list[dict], int, object]:
            params: dict[str, Any] = {"fields": fields, "order_by": pager.order_by}
            if query is not None:
                params["query"] = query.param()
            params["limit"] = limit
            return self._fetch(url, params)

        executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="octane-read-ahead")
            if read_ahead
            else None
        )
        query = pager.query()
        ahead: Future[tuple[list[dict], int, object]] | None = None
        try:
            while True:
                rows, limit, total = ahead.result() if ahead else fetch(query, limit)
                ahead = None
                last = is_last_page(rows, limit, total)
                if lag is not None and isinstance(pager, ChangesPager) and pager.until is None:
                    # The first response's Date fixes the upper bound; rows past it wait.
                    pager.until = self.server_time() - lag
                    kept = [r for r in rows if parse_octane_time(r["last_modified"]) <= pager.until]
                    last = last or len(kept) < len(rows)
                    rows = kept
                if rows:
                    pager.advance(rows)
                if not last:
                    query = pager.query()
                    if executor is not None:
                        # The next filter depends only on this page's last row, so the
                        # next request can be on its way while the caller works.
                        ahead = executor.submit(fetch, query, limit)
                if rows:
                    yield rows
                if last:
                    return
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, url: str, params: dict[str, Any]) -> tuple[list[dict], int, object]:
        """One page; on a 400 about the page size, shrink `limit` and ask again."""
        while True:
            limit = int(params["limit"])
            try:
                body = self._send("GET", url, params=params)
            except OctaneRequestError as exc:
                smaller = page_size_after(exc, limit)
                if smaller is None:
                    raise
                log.warning(
                    "%s rejected page size %d (%s); using %d",
                    self._server,
                    limit,
                    exc.error_code or "HTTP 400",
                    smaller,
                )
                with self._state_lock:
                    self._learned_max_page_size = smaller
                params = {**params, "limit": smaller}
                continue
            rows = body.get("data") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise OctaneRequestError(
                    f"GET {_display_url('GET', url, params)} answered without a data list",
                    url=_display_url("GET", url, params),
                )
            return rows, limit, body.get("total_count")


def _code_text(error_code: str | None) -> str:
    return f" {error_code}" if error_code else ""


def _display_url(method: str, url: str, params: dict | None) -> str:
    prepared = requests.Request(method, url, params=params).prepare().url or url
    return redact_url(prepared)


def _field_list(fields: Sequence[str] | None) -> str:
    if isinstance(fields, str):
        raise TypeError("fields must be a sequence of field names, not one string")
    names = list(dict.fromkeys([*ALWAYS_FIELDS, *(fields or ())]))
    for name in names:
        if not _FIELD_SPEC.fullmatch(name):
            raise ValueError(f"not an Octane field name: {name!r}")
    return ",".join(names)


def _cookie_domain(base_url: str) -> str:
    # What http.cookiejar records for a host-only cookie from this server, so a restored
    # cookie is replaced (not duplicated) when the server rotates it.
    host = (urlsplit(base_url).hostname or "").lower()
    return host if "." in host else f"{host}.local"


__all__ = ["ALWAYS_FIELDS", "OctaneClient", "RetryPolicy", "new_session"]
