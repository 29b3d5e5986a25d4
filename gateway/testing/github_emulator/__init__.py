"""An in-memory GitHub for tests and benchmarks, served over real HTTP by aiohttp.

Stateful repositories with issues, comments, labels, collaborators and users; the REST endpoints
visit-gateway uses, shaped like GitHub's OpenAPI description; `POST /graphql` for discussions,
validated against GitHub's GraphQL schema (`routes_graphql.py`); token and GitHub App auth; primary
and secondary rate limits; injectable faults; signed webhook deliveries. Start with `Emulator`
(`emulator.py`); `python -m gateway.testing.github_emulator` runs one by hand. Test-only: the
daemon never imports this package.
"""

from .actions import AssigneePolicy
from .emulator import Emulator
from .faults import FaultKind, FaultRule, FiredFault
from .limits import Limits
from .model import (
    App,
    Comment,
    Discussion,
    DiscussionCategory,
    DiscussionComment,
    Installation,
    Issue,
    Label,
    Reaction,
    Repo,
    User,
)
from .pipeline import RequestRecord
from .server import BackgroundServer, serve_app
from .webhooks import Delivery, Hook, signature

__all__ = [
    "App",
    "AssigneePolicy",
    "BackgroundServer",
    "Comment",
    "Delivery",
    "Discussion",
    "DiscussionCategory",
    "DiscussionComment",
    "Emulator",
    "FaultKind",
    "FaultRule",
    "FiredFault",
    "Hook",
    "Installation",
    "Issue",
    "Label",
    "Limits",
    "Reaction",
    "Repo",
    "RequestRecord",
    "User",
    "serve_app",
    "signature",
]
