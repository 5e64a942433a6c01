"""HTTP for the API source: settings, one JSON client per system, retries, secret masking.

The retry loop is our own (on a plain `requests.Session`) rather than urllib3's `Retry`,
because the decision needs the response body: Salesforce answers its rate limit with a 403
whose body carries `errorCode: REQUEST_LIMIT_EXCEEDED`, while other 403s are permanent.
Retried: 429 (honouring `Retry-After` seconds), that 403, 5xx, connection errors and
timeouts; exponential backoff with full jitter, a bounded number of attempts.

Secrets (tokens, client secret) never reach a log line, an exception or a repr: headers are
never formatted into messages, and every message passes through `Masker` before it leaves.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger("orchestration.sources.api")

TRUE_VALUES = ("1", "true", "yes", "on")


class ApiConfigError(ValueError):
    """API mode is missing or has malformed settings; the message names the variable."""


class ApiError(RuntimeError):
    """An API call failed for good (after retries) or answered a page we cannot trust."""


@dataclass(frozen=True)
class ApiSettings:
    """API-mode settings (SPEC 6). Secret fields are left out of the repr."""

    salesforce_instance_url: str | None = None
    salesforce_access_token: str | None = field(default=None, repr=False)
    salesforce_client_id: str | None = field(default=None, repr=False)
    salesforce_client_secret: str | None = field(default=None, repr=False)
    salesforce_api_version: str = "v60.0"
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_access_token: str | None = field(default=None, repr=False)
    full_refresh: bool = False
    overlap_minutes: float = 10.0
    max_attempts: int = 6
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    timeout_seconds: float = 60.0
    pages_per_batch: int = 20
    hubspot_search_cap: int = 10_000  # HubSpot's search API returns at most this many results per query

    def __repr__(self) -> str:  # explicit, so a future field cannot leak a secret through the default repr
        secrets = ("salesforce_access_token", "salesforce_client_id", "salesforce_client_secret",
                   "hubspot_access_token")
        shown = ", ".join(
            f"{name}={'***' if getattr(self, name) else None}" if name in secrets else f"{name}={getattr(self, name)!r}"
            for name in self.__dataclass_fields__
        )
        return f"ApiSettings({shown})"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.salesforce_access_token, self.salesforce_client_id,
                                 self.salesforce_client_secret, self.hubspot_access_token) if s)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = dict(os.environ if env is None else env)

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def number(name: str, default: float, *, minimum: float = 0) -> float:
            value = text(name)
            if value is None:
                return default
            try:
                parsed = float(value)
            except ValueError:
                raise ApiConfigError(f"{name} must be a number, got {value!r}") from None
            if parsed < minimum:
                raise ApiConfigError(f"{name} must be at least {minimum:g}, got {value!r}")
            return parsed

        version = text("CLOSEDLOOP_SALESFORCE_API_VERSION") or "v60.0"
        if not version.startswith("v"):
            version = f"v{version}"
        return cls(
            salesforce_instance_url=(text("CLOSEDLOOP_SALESFORCE_INSTANCE_URL") or "").rstrip("/") or None,
            salesforce_access_token=text("CLOSEDLOOP_SALESFORCE_ACCESS_TOKEN"),
            salesforce_client_id=text("CLOSEDLOOP_SALESFORCE_CLIENT_ID"),
            salesforce_client_secret=text("CLOSEDLOOP_SALESFORCE_CLIENT_SECRET"),
            salesforce_api_version=version,
            hubspot_base_url=(text("CLOSEDLOOP_HUBSPOT_BASE_URL") or "https://api.hubapi.com").rstrip("/"),
            hubspot_access_token=text("CLOSEDLOOP_HUBSPOT_ACCESS_TOKEN"),
            full_refresh=(text("CLOSEDLOOP_API_FULL_REFRESH") or "").lower() in TRUE_VALUES,
            overlap_minutes=number("CLOSEDLOOP_API_OVERLAP_MINUTES", 10.0),
            max_attempts=int(number("CLOSEDLOOP_API_MAX_ATTEMPTS", 6, minimum=1)),
            backoff_base_seconds=number("CLOSEDLOOP_API_BACKOFF_SECONDS", 1.0),
            backoff_max_seconds=number("CLOSEDLOOP_API_BACKOFF_MAX_SECONDS", 60.0),
            timeout_seconds=number("CLOSEDLOOP_API_TIMEOUT_SECONDS", 60.0, minimum=0.001),
            pages_per_batch=int(number("CLOSEDLOOP_API_PAGES_PER_BATCH", 20, minimum=1)),
        )

    def check_salesforce(self) -> None:
        missing = []
        if not self.salesforce_instance_url:
            missing.append("CLOSEDLOOP_SALESFORCE_INSTANCE_URL")
        if not self.salesforce_access_token and not (self.salesforce_client_id and self.salesforce_client_secret):
            missing.append("CLOSEDLOOP_SALESFORCE_ACCESS_TOKEN (or CLOSEDLOOP_SALESFORCE_CLIENT_ID and "
                           "CLOSEDLOOP_SALESFORCE_CLIENT_SECRET)")
        if missing:
            raise ApiConfigError("CLOSEDLOOP_SOURCE=api extracts Salesforce but needs " + " and ".join(missing))

    def check_hubspot(self) -> None:
        if not self.hubspot_access_token:
            raise ApiConfigError("CLOSEDLOOP_SOURCE=api extracts HubSpot but needs CLOSEDLOOP_HUBSPOT_ACCESS_TOKEN "
                                 "(a private-app token)")


class Masker:
    """Replaces every known secret in a text by ***."""

    def __init__(self, secrets: tuple[str, ...] = ()):
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def add(self, secret: str | None) -> None:
        if secret:
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def load_json(text: str) -> Any:
    """Parse JSON keeping decimals exact (Decimal keeps "12.50" as written; raw lands values unchanged)."""
    return json.loads(text, parse_float=Decimal)


@dataclass
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class JsonClient:
    """JSON over HTTPS for one system, with bounded retries; counts its calls."""

    def __init__(self, system: str, base_url: str, settings: ApiSettings, masker: Masker, *,
                 token: Callable[[], str], refresh_token: Callable[[], str] | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.system = system
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.mask = masker
        self._token = token
        self._refresh_token = refresh_token
        self._sleep = sleep
        self.session = requests.Session()
        self.calls = 0
        self.limit_info: str | None = None  # Salesforce's Sforce-Limit-Info (api-usage=used/allowed), last seen

    def url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith(("http://", "https://")) else self.base_url + path_or_url

    def get(self, path: str, *, what: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, what=what, params=params)

    def post(self, path: str, *, what: str, body: Any) -> Any:
        return self.request("POST", path, what=what, json_body=body)

    def request(self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None,
                json_body: Any = None) -> Any:
        """The parsed JSON body of a successful answer; `what` names the object in errors."""
        url = self.url(path)
        where = f"{self.system} {what}: {method} {urlsplit(url).path}"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
            try:
                answer = self.session.request(method, url, params=params, json=json_body, headers=headers,
                                              timeout=self.settings.timeout_seconds)
                text = answer.text  # reads the whole body: a dropped connection raises here and is retried
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"{type(error).__name__}"
                retry_after = None
            else:
                self.limit_info = answer.headers.get("Sforce-Limit-Info") or self.limit_info
                status = answer.status_code
                log.debug("%s -> %s (attempt %s)", where, status, attempt)
                if 200 <= status < 300:
                    try:
                        return load_json(text)
                    except ValueError as error:
                        raise ApiError(self.mask(
                            f"{where} answered HTTP {status} with a body that is not complete JSON "
                            f"({error.msg} at character {error.pos} of {len(text)}); nothing of this page was "
                            "landed and no watermark moved: rerun the extract")) from None
                if status == 401 and self._refresh_token and not refreshed:
                    refreshed = True
                    self._refresh_token()
                    attempt -= 1
                    continue
                if not _retryable(status, text):
                    raise ApiError(self.mask(f"{where} failed with HTTP {status}: {_excerpt(text)}"))
                problem = f"HTTP {status}" + (" REQUEST_LIMIT_EXCEEDED" if status == 403 else "")
                retry_after = _retry_after_seconds(answer.headers.get("Retry-After"))
            if attempt >= self.settings.max_attempts:
                raise ApiError(self.mask(f"{where} still failing after {attempt} attempts (last: {problem}); "
                                         "no watermark moved: rerun the extract later"))
            delay = self._backoff(attempt, retry_after)
            log.warning("%s", self.mask(f"{where}: {problem}; retry {attempt}/{self.settings.max_attempts - 1} "
                                        f"in {delay:.2f}s"))
            (self._sleep or time.sleep)(delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = self.settings.backoff_max_seconds
        exponential = min(cap, self.settings.backoff_base_seconds * 2 ** (attempt - 1))
        delay = random.uniform(exponential / 2, exponential)  # jitter: spread clients' retries apart
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        return delay


def _retryable(status: int, text: str) -> bool:
    if status == 429 or status >= 500:
        return True
    return status == 403 and "REQUEST_LIMIT_EXCEEDED" in text


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
