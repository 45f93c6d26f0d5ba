"""A small base for JSON API clients: one ``requests.Session`` with bounded retries, a timeout on every
call, per-client sync statistics and errors that say what to fix.

Retries are urllib3's ``Retry`` (GET only; 429, 500, 502, 503 and 504; connection errors and timeouts
before the response headers arrive), honouring ``Retry-After`` and otherwise backing off exponentially
with jitter. A subclass records every retry and every wait into the client's ``SyncStats``, so the numbers
an asset reports are measured, not estimated. A ``Retry-After`` longer than ``max_retry_after`` (a
spent daily budget) fails at once instead of parking the run.

The token is a ``pydantic.SecretStr`` kept out of the session headers: it is added to each request by an
auth hook and removed from any server text quoted in an error. Redirects are not followed, so the token
never travels to another host.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

__all__ = [
    "RETRY_STATUSES",
    "ApiClient",
    "ApiError",
    "ApiUnavailableError",
    "AuthError",
    "MalformedResponseError",
    "RateLimitBudgetError",
    "RateLimitError",
    "StuckCursorError",
    "SyncStats",
    "page_name",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PageT = TypeVar("PageT")
_ERROR_TEXT_LIMIT = 300
_MIN_RESET_WAIT = 0.5


class ApiError(RuntimeError):
    """A call to an external API failed; the message names the service, the page and the URL.

    ``retryable`` says whether running the sync again later can help (an outage, a rate limit) or
    whether a person must act first (credentials, a wrong URL, a malformed answer).
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class AuthError(ApiError):
    """401 or 403: the credentials are wrong or lack a scope. Never retried."""


class RateLimitError(ApiError):
    """Still rate limited after the allowed retries."""

    retryable = True


class RateLimitBudgetError(RateLimitError):
    """Asked to wait longer than ``max_retry_after`` (a spent daily budget): retrying soon cannot help."""

    retryable = False


class ApiUnavailableError(ApiError):
    """5xx, timeouts or connection failures that outlasted the bounded retries."""

    retryable = True


class MalformedResponseError(ApiError):
    """A 2xx response that is not JSON or not in the documented shape."""


class StuckCursorError(ApiError):
    """Pagination handed back a cursor it had already given: following it would loop forever."""


@dataclass
class SyncStats:
    """What one client did: attempts on the wire (retries included), pages walked, retries and waits."""

    api_calls: int = 0
    pages: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    retry_wait_seconds: float = 0.0

    def as_metadata(self) -> dict[str, int | float]:
        return {
            key: round(value, 3) if isinstance(value, float) else value for key, value in asdict(self).items()
        }


class _MeasuredRetry(Retry):
    """``Retry`` that counts attempts and waits into a ``SyncStats`` and refuses very long waits."""

    def __init__(
        self,
        *args: Any,
        stats: SyncStats,
        max_retry_after: float,
        reset_header: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats
        self.max_retry_after = max_retry_after
        self.reset_header = reset_header

    def new(self, **kwargs: Any) -> _MeasuredRetry:
        return super().new(
            stats=self.stats, max_retry_after=self.max_retry_after, reset_header=self.reset_header, **kwargs
        )

    def get_retry_after(self, response: Any) -> float | None:
        try:
            wait = super().get_retry_after(response)
        except InvalidHeader:
            # urllib3 reads whole seconds or an HTTP date; Shopify sends seconds with a fraction ("2.0").
            try:
                seconds = float(response.headers.get("Retry-After", ""))
            except ValueError:
                return None
            return seconds if seconds >= 0 else None
        if wait is None and self.reset_header and response.status == 429:
            return _until_reset(response.headers.get(self.reset_header))
        return wait

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _MeasuredRetry:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                # With raise_on_status=False urllib3 hands the response back; ApiClient reports it.
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f}s is too long"))
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        self.stats.retries += 1
        self.stats.api_calls += 1
        return retry

    def sleep(self, response: Any = None) -> None:
        started = time.monotonic()
        super().sleep(response)
        waited = time.monotonic() - started
        if response is not None and response.status == 429:
            self.stats.rate_limit_waits += 1
            self.stats.rate_limit_wait_seconds += waited
        else:
            self.stats.retry_wait_seconds += waited


class _TokenAuth(requests.auth.AuthBase):
    def __init__(self, header: str, scheme: str | None, token: SecretStr) -> None:
        self._header = header
        self._scheme = scheme
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        secret = self._token.get_secret_value()
        request.headers[self._header] = f"{self._scheme} {secret}" if self._scheme else secret
        return request

    def __repr__(self) -> str:
        return f"_TokenAuth({self._header}: {self._token})"


class ApiClient:
    """Base for one external JSON API. Subclasses add the documented paths and pagination.

    ``base_url`` is scheme and host (``https://api.pipedrive.com``); ``token_setting`` is the name of
    the setting the token came from, quoted when the server rejects it.
    """

    service: ClassVar[str] = "API"
    # How the token travels: the header, and the scheme before the token (None: the token alone).
    auth_header: ClassVar[str] = "Authorization"
    auth_scheme: ClassVar[str | None] = "Bearer"
    # The setting a subclass's token comes from, and the most records a page may hold (None: no paging).
    default_token_setting: ClassVar[str] = "the token setting"
    max_page_size: ClassVar[int | None] = None
    # A header holding the unix time a 429's limit resets, waited for when there is no Retry-After
    # (SendGrid's X-RateLimit-Reset).
    rate_limit_reset_header: ClassVar[str | None] = None

    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        *,
        token_setting: str | None = None,
        page_size: int | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        backoff_jitter: float = 0.5,
        max_retry_after: float = 120.0,
        retry_methods: frozenset[str] = frozenset({"GET"}),
    ) -> None:
        """``retry_methods``: the methods that only read, so are safe to retry (HubSpot reads by POST).
        ``page_size`` defaults to ``max_page_size`` and may not exceed it."""
        token_setting = token_setting or self.default_token_setting
        self.base_url = _check_base_url(base_url)
        if isinstance(token, str):
            token = SecretStr(token)
        if not token.get_secret_value().strip():
            raise ValueError(f"{token_setting} is empty; set it to the {self.service} token")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.token_setting = token_setting
        self.timeout = timeout
        self.max_retries = max_retries
        self.stats = SyncStats()
        self._token = token
        retry = _MeasuredRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            allowed_methods=retry_methods,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_jitter,
            raise_on_status=False,
            respect_retry_after_header=True,
            stats=self.stats,
            max_retry_after=max_retry_after,
            reset_header=self.rate_limit_reset_header,
        )
        self._session = requests.Session()
        self._session.auth = _TokenAuth(self.auth_header, self.auth_scheme, token)
        self._session.headers.update({"Accept": "application/json", "User-Agent": "dripline"})
        self._retry = retry
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if self.max_page_size is not None:
            size = self.max_page_size if page_size is None else page_size
            self.page_size = self.check_limit("page_size", size, self.max_page_size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, token={self._token})"

    def check_limit(self, name: str, value: int, maximum: int) -> int:
        """``value`` when it is between 1 and the API's ``maximum``, else a ValueError naming ``name``."""
        if not 1 <= value <= maximum:
            raise ValueError(f"{name} must be between 1 and {maximum} ({self.service}'s limit), got {value}")
        return value

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *, page: str) -> dict[str, Any]:
        """GET ``base_url + path`` and return the JSON object it answers.

        ``page`` says which page this is (``"persons page 3 at cursor 'eyJ…'"``); every error names it
        together with the URL.
        """
        return self._request("GET", path, page=page, params=params)[0]

    def get_json_array(self, path: str, params: Mapping[str, Any] | None = None, *, page: str) -> list[Any]:
        """``get_json`` of an endpoint that answers a JSON array (SendGrid's suppression lists)."""
        return self._request("GET", path, page=page, params=params, expect=list)[0]

    def get_json_and_headers(
        self, path: str, params: Mapping[str, Any] | None = None, *, page: str
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """``get_json``, with the answer's headers (where an API puts its paging, such as ``Link``)."""
        return self._request("GET", path, page=page, params=params)

    def post_json(self, path: str, body: Mapping[str, Any], *, page: str) -> dict[str, Any]:
        """POST a JSON ``body`` (a read, such as a search) and return the JSON object it answers."""
        return self._request("POST", path, page=page, json_body=body)[0]

    def _request(
        self,
        method: str,
        path: str,
        *,
        page: str,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        expect: type = dict,
    ) -> tuple[Any, Mapping[str, str]]:
        url = self.base_url + path
        where = f"{self.service} {page}"
        retries_before = self.stats.retries
        self.stats.api_calls += 1
        try:
            response = self._session.request(
                method, url, params=params, json=json_body, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            attempts = 1 + self.stats.retries - retries_before
            reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else exc
            full_url = exc.request.url if exc.request is not None else url
            raise ApiUnavailableError(
                f"{where} ({method} {full_url}) failed after {attempts} attempt(s): "
                f"{self._redact(str(reason))}",
                url=full_url,
            ) from exc

        attempts = 1 + self.stats.retries - retries_before
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"{self.service} rejected the credentials (HTTP {status}: {self._error_text(response)}) "
                f"on {where} ({method} {response.url}); check the setting {self.token_setting}.",
                url=response.url,
                status=status,
            )
        if status == 429:
            wait = self._retry.get_retry_after(response)
            budget_spent = wait is not None and wait > self._retry.max_retry_after
            raise (RateLimitBudgetError if budget_spent else RateLimitError)(
                f"{where} ({method} {response.url}) still rate limited after {attempts} attempt(s)"
                f"{_retry_after_note(response)}: {self._error_text(response)}",
                url=response.url,
                status=status,
            )
        if status in RETRY_STATUSES:
            raise ApiUnavailableError(
                f"{where} ({method} {response.url}) answered HTTP {status} after {attempts} attempt(s)"
                f"{_retry_after_note(response)}: {self._error_text(response)}",
                url=response.url,
                status=status,
            )
        if 300 <= status < 400:
            raise ApiError(
                f"{where} ({method} {response.url}) redirected to {response.headers.get('Location')!r}, "
                "which is not followed; the base URL should be scheme and host of the API.",
                url=response.url,
                status=status,
            )
        if not 200 <= status < 300:
            raise ApiError(
                f"{where} ({method} {response.url}) answered HTTP {status}: {self._error_text(response)}",
                url=response.url,
                status=status,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise MalformedResponseError(
                f"{where} ({method} {response.url}) is not valid JSON: {exc}; "
                f"body starts {self._redact(response.text[:80])!r}",
                url=response.url,
                status=status,
            ) from None
        if not isinstance(body, expect):
            wanted = "an array" if expect is list else "a JSON object"
            raise MalformedResponseError(
                f"{where} ({method} {response.url}) expected {wanted}, got {type(body).__name__}",
                url=response.url,
                status=status,
            )
        return body, response.headers

    def walk_cursor(
        self,
        read: Callable[[str | None, int], tuple[PageT, str | None, str]],
        *,
        url: str,
        repeated: str,
        first_number: int = 1,
    ) -> Iterator[PageT]:
        """Follow a cursor from page to page, yielding each page as soon as it is read.

        ``read(cursor, number)`` requests one page (``cursor`` None for the first) and returns it, the cursor
        of the next page (None on the last) and the page's name for messages. A cursor this walk has already
        followed raises ``StuckCursorError`` instead of looping; ``repeated`` says what came back, with
        ``{cursor}`` where the cursor goes (``"returned next_cursor {cursor}, which this walk has already
        followed"``).
        """
        followed: set[str] = set()
        cursor: str | None = None
        for number in itertools.count(first_number):
            page, next_cursor, where = read(cursor, number)
            if next_cursor is not None:
                if next_cursor == cursor or next_cursor in followed:
                    raise StuckCursorError(
                        f"{self.service} {where} {repeated.format(cursor=repr(next_cursor))}; stopping "
                        "instead of looping.",
                        url=url,
                    )
                followed.add(next_cursor)
            self.stats.pages += 1
            yield page
            if next_cursor is None:
                return
            cursor = next_cursor

    def malformed(self, page: str, url: str, problem: str) -> MalformedResponseError:
        return MalformedResponseError(f"{self.service} {page} (GET {url}) {problem}", url=url)

    def _error_text(self, response: requests.Response) -> str:
        """The server's own error message, from the usual JSON keys or the start of the body."""
        text = response.text
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [
                body[key] for key in ("error", "message", "description") if isinstance(body.get(key), str)
            ]
            if parts:
                text = parts[0]
        return self._redact(" ".join(text.split())[:_ERROR_TEXT_LIMIT]) or response.reason or "no body"

    def _redact(self, text: str) -> str:
        secret = self._token.get_secret_value()
        return text.replace(secret, "**********") if secret else text


def page_name(
    walk: str,
    number: int,
    cursor: str | None,
    how: str,
    *,
    filters: Mapping[str, str] | None = None,
    first: str = "(first page)",
) -> str:
    """How messages name a page of a walk and its ``filters``: ``"persons updated_since=… page 3 at cursor
    'eyJ…'"``, where ``how`` says what the cursor is (``"at cursor"``), or ``first`` for a page asked for
    without one."""
    described = "".join(f" {key}={value}" for key, value in (filters or {}).items())
    return f"{walk}{described} page {number} " + (f"{how} {cursor!r}" if cursor is not None else first)


def _until_reset(value: str | None) -> float | None:
    """Seconds until a rate limit's reset time (unix seconds); at least a moment, as it has whole-second
    resolution and may already have passed."""
    try:
        reset = float(value or "")
    except ValueError:
        return None
    return max(reset - time.time(), _MIN_RESET_WAIT)


def _retry_after_note(response: requests.Response) -> str:
    value = response.headers.get("Retry-After")
    return f" (Retry-After: {value}s)" if value else ""


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be http(s)://host, got {base_url!r}")
    if parts.username or parts.password:
        raise ValueError("base URL must not carry credentials; the token is a separate setting")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"base URL must be scheme and host only (the client appends the API paths), got {base_url!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"
