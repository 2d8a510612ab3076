"""Reading JSON answers of a remote API through the job's ``Fetch``, with every failure said in words that
name the URL (shared by the CKAN and GWDM adapters)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from healthgate.federation.adapters import Fetch


class FetchFailed(Exception):
    """A request that did not give usable JSON; the message names the URL and why."""


def get_json(fetch: Fetch, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, bytes]:
    """GET ``url`` and parse its JSON body: ``(value, body bytes)``, or FetchFailed saying why not."""
    try:
        response = fetch.get(url, params=params, headers={"Accept": "application/json"})
    except Exception as exc:  # noqa: BLE001  (the guarded client's refusals, timeouts, connection errors)
        raise FetchFailed(f"GET {url}: {type(exc).__name__}: {str(exc)[:200]}") from None
    where = str(response.request.url) if _has_request(response) else url
    if response.status_code >= 400:
        raise FetchFailed(f"GET {where}: HTTP {response.status_code}")
    body = response.content
    try:
        return orjson.loads(body), body
    except orjson.JSONDecodeError as exc:
        raise FetchFailed(f"GET {where}: not JSON ({str(exc)[:120]})") from None


def _has_request(response: Any) -> bool:
    try:
        response.request  # noqa: B018  (httpx raises when a response was built without one)
    except RuntimeError:
        return False
    return True


def canonical_bytes(value: Any) -> bytes:
    """A JSON value as stable bytes (sorted keys), so the same content always hashes the same."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def setting_int(settings: Mapping[str, Any], names: str | tuple[str, ...], default: int, lo: int, hi: int) -> int:
    """An integer setting (the first of ``names`` given), bounded to ``[lo, hi]``; ``default`` when absent or
    not a whole number."""
    for name in (names,) if isinstance(names, str) else names:
        raw = settings.get(name)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            continue
        return max(lo, min(hi, value))
    return default
