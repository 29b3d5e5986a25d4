"""Query-string helpers shared by the list endpoints: pages, `Link` headers, `since`, sorting.

GitHub pages with `per_page` (default 30, at most 100) and `page` (from 1), and announces the
neighbours in a `Link` header whose URLs keep every other query parameter
(https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlencode

from .errors import validation_failed

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int(query: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError:
        return default


def paginate(
    items: Sequence[T], query: Mapping[str, str], base_url: str, path: str
) -> tuple[list[T], dict[str, str]]:
    """The requested page of `items` and the headers (`Link`) that describe the others."""
    per_page = min(max(_int(query, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(query, "page", 1), 1)
    last = max(math.ceil(len(items) / per_page), 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    rels: list[tuple[str, int]] = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    if not rels:
        return chunk, {}

    def url(number: int) -> str:
        params = {k: v for k, v in query.items() if k != "page"}
        params["page"] = str(number)
        return f"{base_url}{path}?{urlencode(params)}"

    return chunk, {"Link": ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)}


def parse_since(query: Mapping[str, str], resource: str = "Issue") -> dt.datetime | None:
    """`since` as an aware datetime; GitHub answers 422 for a value it cannot read."""
    raw = query.get("since")
    if raw is None or raw == "":
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise validation_failed(resource, "since", "invalid", value=raw) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def choice(query: Mapping[str, str], key: str, allowed: Sequence[str], default: str) -> str:
    value = query.get(key, default) or default
    if value not in allowed:
        raise validation_failed("Issue", key, "invalid", value=value)
    return value
