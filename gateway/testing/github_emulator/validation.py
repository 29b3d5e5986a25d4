"""Request-body validation shared by the issue actions, with GitHub's limits and error shapes.

Issue and comment bodies are capped at 65,536 characters and titles at 256; GitHub answers 422
"Validation Failed" with `{resource, field, code}` errors. Pure functions.
"""

from __future__ import annotations

from typing import Any

from .errors import validation_failed

BODY_LIMIT = 65_536  # characters, for issue and comment bodies
TITLE_LIMIT = 256


def check_title(title: Any) -> None:
    if title is None or title == "":
        raise validation_failed("Issue", "title", "missing_field")
    if not isinstance(title, str):
        raise validation_failed("Issue", "title", "invalid", value=str(title))
    if len(title) > TITLE_LIMIT:
        raise validation_failed(
            "Issue",
            "title",
            "custom",
            message=f"title is too long (maximum is {TITLE_LIMIT} characters)",
        )


def check_body(body: Any, resource: str, *, nullable: bool) -> None:
    if body is None and nullable:
        return
    if not isinstance(body, str) or (not nullable and not body):
        raise validation_failed(resource, "body", "missing_field")
    if len(body) > BODY_LIMIT:
        raise validation_failed(
            resource,
            "body",
            "custom",
            message=f"body is too long (maximum is {BODY_LIMIT} characters)",
        )


def label_names(labels: Any) -> list[str]:
    """Labels as GitHub accepts them: names, or objects with a `name`."""
    if labels is None:
        return []
    if not isinstance(labels, list):
        raise validation_failed("Issue", "labels", "invalid")
    names = [x.get("name") if isinstance(x, dict) else x for x in labels]
    if not all(isinstance(n, str) and n for n in names):
        raise validation_failed("Issue", "labels", "invalid")
    return [str(n) for n in names]


def login_list(logins: Any) -> list[str]:
    if logins is None:
        return []
    if isinstance(logins, str):
        return [logins]
    if not isinstance(logins, list) or not all(isinstance(x, str) for x in logins):
        raise validation_failed("Issue", "assignees", "invalid")
    return logins


def unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out
