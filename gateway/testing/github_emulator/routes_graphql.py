"""`POST /graphql`: GitHub's GraphQL endpoint over the emulator's model.

Each request goes: JSON body → parse → `validate()` against GitHub's schema → variable coercion
→ GitHub's own rules (`first`/`last` 1..100 on every connection, node limit) → rate limits
(the separate `graphql` points bucket; secondary limits) → execution with graphql-core over the
resolver table (`resolvers_discussions.py`). Like GitHub, document and business errors answer
HTTP 200 with an `errors` array: a document that never ran has no `data`; a resolver's refusal
has `{type, message, path, locations}` and leaves its field null. Transport, auth and secondary
limits answer with HTTP statuses (the pipeline's 401, 403 + `retry-after`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from graphql import GraphQLError, GraphQLSyntaxError, execute_sync, parse, validate
from graphql.execution.values import get_variable_values

from . import resolvers_reactions  # noqa: F401  (importing it registers addReaction)
from .actions_discussions import DiscussionActions, GraphQLFailure
from .context import Context, caller, json_response
from .errors import ApiError, bad_json
from .graphql_schema import Analysis, analyse, github_schema, operation_of
from .limits import PRIMARY_DOCS, SECONDARY_DOCS
from .resolvers_discussions import (
    CONTENT_MUTATIONS,
    GraphQLContext,
    resolve_field,
    resolve_type,
)

PATH = "/graphql"


@dataclass(slots=True)
class GraphQLLog:
    """Every document text received, and every unimplemented field asked for."""

    documents: list[str] = field(default_factory=list)
    unimplemented: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _code(message: str) -> str:
    """A GitHub-like `extensions.code` for a graphql-core validation message."""
    table = (
        ("Cannot query field", "undefinedField"),
        ("Unknown argument", "argumentNotAccepted"),
        ("Unknown type", "undefinedType"),
        ("is required, but it was not provided", "missingRequiredArguments"),
        ("Field '", "missingRequiredInputObjectAttribute"),
        ("must have a selection of subfields", "selectionMismatch"),
        ("must not have a selection", "selectionMismatch"),
        ("is never used", "variableNotUsed"),
        ("is not defined", "variableNotDefined"),
        ("cannot represent", "argumentLiteralsIncompatible"),
        ("does not exist in", "argumentLiteralsIncompatible"),
        ("Expected value of type", "argumentLiteralsIncompatible"),
        ("used in position expecting", "variableMismatch"),
    )
    return next((code for part, code in table if part in message), "validationError")


def _located(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if error.path is not None:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": x.line, "column": x.column} for x in error.locations]
    return out


def _document_error(error: GraphQLError) -> dict[str, Any]:
    return {
        **_located(error),
        "extensions": {"code": _code(error.message)},
        "message": error.message,
    }


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, GraphQLFailure):
        return {"type": original.type, **_located(error), "message": original.message}
    out: dict[str, Any] = {**_located(error), "message": error.message}
    if error.extensions:
        out["extensions"] = error.extensions
    return out


class GraphQLRoutes:
    def __init__(self, ctx: Context, actions: DiscussionActions, log: GraphQLLog) -> None:
        self.ctx = ctx
        self.actions = actions
        self.log = log

    def register(self, router: web.UrlDispatcher) -> None:
        router.add_post(PATH, self.graphql)

    async def graphql(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise bad_json() from None
        if not isinstance(body, dict):
            raise bad_json()
        text, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(text, str) or not isinstance(variables, dict):
            return _errors(
                [{"message": "A query attribute must be specified and must be a string."}]
            )
        with self.log.lock:
            self.log.documents.append(text)
        schema = github_schema()
        try:
            document = parse(text)
        except GraphQLSyntaxError as exc:
            return _errors([{**_located(exc), "message": exc.message}])
        invalid = validate(schema, document)
        if invalid:
            return _errors([_document_error(e) for e in invalid])
        op = operation_of(document, body.get("operationName"))
        if op is None:
            return _errors([{"message": "An operation name is required"}])
        coerced = get_variable_values(schema, op.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return _errors([{**_located(e), "message": e.message} for e in coerced])
        analysis = analyse(schema, document, op, coerced.coerced)
        if analysis.problems:
            return _errors(analysis.problems)
        headers, rate = self._limit(analysis)
        if rate is None:
            return _errors(
                [
                    {
                        "type": "RATE_LIMITED",
                        "message": f"API rate limit exceeded for {caller().description}.",
                    }
                ],
                headers,
            )
        with self.ctx.store.lock:
            gctx = GraphQLContext(
                self.ctx.store,
                self.actions,
                caller(),
                self.ctx.render.base_url,
                self.ctx.now,
                rate,
            )
            result = execute_sync(
                schema,
                document,
                context_value=gctx,
                variable_values=variables,
                operation_name=body.get("operationName"),
                field_resolver=resolve_field,
                type_resolver=resolve_type,
            )
        if gctx.unimplemented:
            with self.log.lock:
                self.log.unimplemented.extend(gctx.unimplemented)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_execution_error(e) for e in result.errors]
        return json_response(out, headers=headers)

    def _limit(self, analysis: Analysis) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Charge the points; raise the secondary limits. (headers, rateLimit object or None
        when the primary limit is spent and answered 200 + RATE_LIMITED)."""
        who = caller()
        limiter = self.ctx.limiter
        limits = limiter.limits
        points = analysis.points
        quota, over = limiter.take(who.identity, "graphql", points)
        headers = quota.headers()
        if over:
            if limits.graphql_primary_style == "403":
                raise ApiError(
                    limits.primary_status,
                    f"API rate limit exceeded for {who.description}.",
                    documentation_url=PRIMARY_DOCS,
                    headers=headers,
                )
            return headers, None
        weight = 5 if analysis.kind == "mutation" else 1
        content = analysis.kind == "mutation" and bool(
            CONTENT_MUTATIONS.intersection(analysis.root_fields)
        )
        wait = limiter.take_graphql_secondary(who.identity, weight, content=content)
        if wait is not None:
            raise ApiError(
                limits.secondary_status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again.",
                documentation_url=SECONDARY_DOCS,
                headers={**headers, "retry-after": str(wait)},
            )
        rate = {
            "cost": points,
            "limit": quota.limit,
            "remaining": quota.remaining,
            "used": quota.used,
            "resetAt": _iso(quota.reset),
            "nodeCount": analysis.nodes,
        }
        return headers, rate


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(errors: list[dict[str, Any]], headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"errors": errors}, headers=headers)
