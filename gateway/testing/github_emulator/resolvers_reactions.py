"""GraphQL `addReaction` and the `Reaction` type, over `reactions.py`.

Registered into `resolvers_discussions.RESOLVERS` on import (`routes_graphql` imports this module).
The emulator reacts to discussions and discussion comments only; any other id the caller may see
is NOT_FOUND, like an id that names nothing. `addReaction` is a content-creating mutation
(`CONTENT_MUTATIONS`): the secondary content limit applies to it as to REST's POST.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .actions_discussions import not_resolvable
from .model import Discussion, DiscussionComment, Reaction, next_node_id
from .reactions import FROM_GRAPHQL, TO_GRAPHQL, react
from .render import stamp
from .resolvers_discussions import RESOLVERS, At, Info, ctx, resolves


@dataclass(frozen=True, slots=True)
class Reacted:
    """A reaction with what it reacts to (`Reaction.reactable`)."""

    reaction: Reaction
    subject: Discussion | DiscussionComment


@resolves("Mutation", "addReaction")
def m_add_reaction(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    c = ctx(info)
    found = c.node(input["subjectId"])
    if not isinstance(found, At) or not isinstance(found.obj, Discussion | DiscussionComment):
        raise not_resolvable(str(input["subjectId"]))
    kind = "Discussion" if isinstance(found.obj, Discussion) else "DiscussionComment"
    content = FROM_GRAPHQL[input["content"]]  # the schema has checked the enum
    reaction, _ = react(c.store, found.repo, c.who.login, (kind, found.obj.id), content, c.now())
    return {
        "clientMutationId": input.get("clientMutationId"),
        "reaction": At(found.repo, Reacted(reaction, found.obj)),
        "subject": found,
    }


R = "Reaction"
RESOLVERS[(R, "id")] = lambda s, i: next_node_id(R, s.repo.id, s.obj.reaction.id)
RESOLVERS[(R, "databaseId")] = lambda s, i: s.obj.reaction.id
RESOLVERS[(R, "content")] = lambda s, i: TO_GRAPHQL[s.obj.reaction.content]
RESOLVERS[(R, "createdAt")] = lambda s, i: stamp(s.obj.reaction.created_at)
RESOLVERS[(R, "user")] = lambda s, i: ctx(i).store.user(s.obj.reaction.user)
RESOLVERS[(R, "reactable")] = lambda s, i: At(s.repo, s.obj.subject)
