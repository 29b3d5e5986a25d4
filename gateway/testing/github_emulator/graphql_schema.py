"""GitHub's GraphQL schema, and the rules GitHub adds on top of GraphQL validation.

The schema is the reference SDL in the shared data (`graphql/schema.graphql`, octokit's
graphql-schema), built once per process with graphql-core. GitHub's SDL trips two of
graphql-core's own schema checks, so it is built with `assume_valid_sdl` and `assume_valid`;
`validate()` then rejects unknown fields and wrong argument types as GitHub does.

GitHub-only rules, checked after validation and variable coercion, before anything runs
(https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api):
- every connection needs `first` or `last`, each within 1..100;
- at most 500,000 nodes per query;
- cost: the number of connection requests (each multiplied by its parents' `first`/`last`)
  divided by 100, rounded, at least 1 point.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from gateway.testing.reference import reference_dir

# What GitHub answers (HTTP 200) when a query fails inside: no `type`, `data` null.
GRAPHQL_ERROR_BODY = {
    "data": None,
    "errors": [
        {
            "message": "Something went wrong while executing your query. This may be the result "
            "of a timeout, or it could be a GitHub bug. Please include `E1A2:3B4C:5D6E:7F80` "
            "when reporting this issue."
        }
    ],
}
NODE_LIMIT = 500_000
PAGE_LIMIT = 100


@functools.cache
def github_schema() -> GraphQLSchema:
    path = reference_dir() / "graphql" / "schema.graphql"
    return build_schema(path.read_text(), assume_valid_sdl=True, assume_valid=True)


@dataclass(slots=True)
class Analysis:
    """What the pipeline and the limits need to know about one operation."""

    kind: str  # "query" | "mutation" | "subscription"
    name: str | None
    root_fields: list[str]
    connections: int = 0
    nodes: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return max(1, round(self.connections / 100))


def operation_of(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in ops if o.name is not None and o.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


def root_fields(op: OperationDefinitionNode) -> list[str]:
    return [s.name.value for s in op.selection_set.selections if isinstance(s, FieldNode)]


def analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    op: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> Analysis:
    frags = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    kind = op.operation.value
    root = schema.mutation_type if kind == "mutation" else schema.query_type
    result = Analysis(kind, op.name.value if op.name else None, root_fields(op))
    if root is not None:
        _walk(op.selection_set, root, frags, variables, 1, [], result, schema)
    if result.nodes > NODE_LIMIT:
        result.problems.append(
            {
                "type": "MAX_NODE_LIMIT_EXCEEDED",
                "message": f"This query requests up to {result.nodes:,} possible nodes which "
                f"exceeds the maximum limit of {NODE_LIMIT:,}.",
            }
        )
    return result


def _value(node: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return [_value(v, variables) for v in node.values]
    return getattr(node, "value", None)


def _walk(
    selections: SelectionSetNode,
    parent: Any,
    frags: dict[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    mult: int,
    path: list[str],
    out: Analysis,
    schema: GraphQLSchema,
) -> None:
    for sel in selections.selections:
        if isinstance(sel, FieldNode):
            name = sel.name.value
            if name.startswith("__") or not isinstance(
                parent, GraphQLObjectType | GraphQLInterfaceType
            ):
                continue
            fdef = parent.fields.get(name)
            if fdef is None:
                continue
            here = [*path, sel.alias.value if sel.alias else name]
            rtype = get_named_type(fdef.type)
            args = {a.name.value: _value(a.value, variables) for a in sel.arguments or ()}
            child = mult
            if name == "nodes" and parent is schema.query_type:
                child = mult * max(len(args.get("ids") or []), 1)
            if rtype.name.endswith("Connection") and ("first" in fdef.args or "last" in fdef.args):
                size = _page_size(name, args, sel, here, out)
                out.connections += mult
                out.nodes += mult * size
                child = mult * size
            if sel.selection_set is not None:
                _walk(sel.selection_set, rtype, frags, variables, child, here, out, schema)
        elif isinstance(sel, InlineFragmentNode):
            t = schema.type_map[sel.type_condition.name.value] if sel.type_condition else parent
            _walk(sel.selection_set, t, frags, variables, mult, path, out, schema)
        elif isinstance(sel, FragmentSpreadNode):
            frag = frags.get(sel.name.value)
            if frag is not None:
                t = schema.type_map[frag.type_condition.name.value]
                _walk(frag.selection_set, t, frags, variables, mult, path, out, schema)


def _page_size(
    name: str, args: dict[str, Any], sel: FieldNode, path: list[str], out: Analysis
) -> int:
    loc = sel.loc.source.get_location(sel.loc.start) if sel.loc and sel.loc.source else None
    where: dict[str, Any] = {"path": path}
    if loc is not None:
        where["locations"] = [{"line": loc.line, "column": loc.column}]
    sizes = [(k, args[k]) for k in ("first", "last") if args.get(k) is not None]
    if not sizes:
        out.problems.append(
            {
                "type": "MISSING_PAGINATION_BOUNDARIES",
                **where,
                "message": f"You must provide a `first` or `last` value to properly paginate "
                f"the `{name}` connection.",
            }
        )
        return PAGE_LIMIT
    for key, size in sizes:
        if size > PAGE_LIMIT:
            out.problems.append(
                {
                    "type": "EXCESSIVE_PAGINATION",
                    **where,
                    "message": f"Requesting {size} records on the `{name}` connection exceeds "
                    f"the `{key}` limit of {PAGE_LIMIT} records.",
                }
            )
        elif size < 1:
            out.problems.append(
                {
                    "type": "INVALID_PAGINATION",
                    **where,
                    "message": f"`{key}` on the `{name}` connection must be between 1 and "
                    f"{PAGE_LIMIT}.",
                }
            )
    return max(1, min(max(int(s) for _, s in sizes), PAGE_LIMIT))
