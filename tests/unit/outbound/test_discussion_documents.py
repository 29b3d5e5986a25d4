"""Every GraphQL document the gateway sends validates against GitHub's published schema, takes
its variables, and keeps to GitHub's own rules (first/last in 1..100, node limit, cost)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    coerce_input_value,
    is_input_type,
    parse,
    type_from_ast,
    validate,
)

from gateway.outbound.discussion_documents import DOCUMENTS, MUTATIONS
from gateway.testing.github_emulator.graphql_schema import analyse, github_schema

VARIABLES: dict[str, dict[str, Any]] = {
    "DiscussionTarget": {"owner": "acme", "name": "visit-users", "after": None},
    "LabelByName": {"owner": "acme", "name": "visit-users", "label": "SRE"},
    "ViewerPermission": {"owner": "acme", "name": "visit-users"},
    "DiscussionId": {"owner": "acme", "name": "visit-users", "number": 7},
    "CreateDiscussion": {"input": {"repositoryId": "R_1", "categoryId": "DIC_1", "title": "t",
                                   "body": "b"}},
    "AddLabels": {"input": {"labelableId": "D_1", "labelIds": ["LA_1"]}},
    "AddDiscussionComment": {"input": {"discussionId": "D_1", "body": "b", "replyToId": "DC_1"}},
    "RecentDiscussions": {"owner": "acme", "name": "visit-users", "after": "Y3Vyc29y"},
    "DiscussionComments": {"owner": "acme", "name": "visit-users", "number": 7,
                           "before": None},
    "CommentReplies": {"id": "DC_1", "before": None},
    "DiscussionsSince": {"owner": "acme", "name": "visit-users", "categoryId": "DIC_1",
                         "after": None},
    "TrackedDiscussions": {"ids": [f"D_{n}" for n in range(25)]},  # the most reconcile sends
    "OlderComments": {"id": "D_1", "before": "Y3Vyc29y"},
    "MarkAnswer": {"input": {"id": "DC_1"}},
    "UnmarkAnswer": {"input": {"id": "DC_1"}},
    "CloseDiscussion": {"input": {"discussionId": "D_1", "reason": "OUTDATED"}},
    "ReopenDiscussion": {"input": {"discussionId": "D_1"}},
    "AddReaction": {"input": {"subjectId": "DC_1", "content": "THUMBS_UP"}},
    "RemoveLabels": {"input": {"labelableId": "D_1", "labelIds": ["LA_1", "LA_2"]}},
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return github_schema()


def test_every_document_has_sample_variables() -> None:
    assert set(VARIABLES) == set(DOCUMENTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_validates(schema: GraphQLSchema, name: str) -> None:
    document = parse(DOCUMENTS[name])
    assert validate(schema, document) == []
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(ops) == 1 and ops[0].name is not None and ops[0].name.value == name
    op = ops[0]
    assert (op.operation is OperationType.MUTATION) == (name in MUTATIONS)

    variables = VARIABLES[name]
    definitions = op.variable_definitions or ()
    assert set(variables) <= {v.variable.name.value for v in definitions}
    for definition in definitions:
        var_type = type_from_ast(schema, definition.type)
        assert is_input_type(var_type)
        value = variables.get(definition.variable.name.value)
        coerce_input_value(value, var_type)  # raises on a wrong shape

    analysis = analyse(schema, document, op, variables)
    assert analysis.problems == []  # first/last present and within 1..100, node limit
    assert analysis.points <= 10 and analysis.nodes <= 50_000


def test_a_wrong_document_is_caught(schema: GraphQLSchema) -> None:
    wrong = parse('mutation { createDiscussion(input: {repositoryId: "x", categoryId: "y", '
                  'title: "t", body: "b", labelIds: ["z"]}) { discussion { id } } }')
    assert validate(schema, wrong) != []


@pytest.mark.parametrize(("name", "points", "nodes"), [
    # 25 discussions x (20 labels + 30 comments x (1 + 10 replies)), as in the design's §1.4
    ("DiscussionsSince", 8, 25 + 25 * (20 + 30 + 30 * 10)),
    ("TrackedDiscussions", 8, 25 * (20 + 30 + 30 * 10)),
    ("OlderComments", 1, 100 + 100 * 10),
])
def test_reconcile_reads_cost_what_the_design_says(schema: GraphQLSchema, name: str,
                                                   points: int, nodes: int) -> None:
    document = parse(DOCUMENTS[name])
    (op,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    analysis = analyse(schema, document, op, VARIABLES[name])
    assert (analysis.points, analysis.nodes) == (points, nodes)


@pytest.mark.parametrize("name", ["MarkAnswer", "UnmarkAnswer", "CloseDiscussion",
                                  "ReopenDiscussion", "AddReaction", "RemoveLabels"])
def test_issue_16_mutations_cost_one_point(schema: GraphQLSchema, name: str) -> None:
    """No connection but RemoveLabels' 20 labels: the primary cost is GitHub's minimum."""
    document = parse(DOCUMENTS[name])
    (op,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    analysis = analyse(schema, document, op, VARIABLES[name])
    assert analysis.points == 1 and analysis.nodes == (20 if name == "RemoveLabels" else 0)
