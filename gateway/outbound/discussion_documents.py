"""Every GraphQL document the gateway sends to GitHub, as constants, and nothing else.

No GraphQL text is built at run time anywhere (a fragment is joined to its documents once, at
import): a unit test validates each constant in `DOCUMENTS` against GitHub's published schema
(and GitHub's own first/last and cost rules), so a document that reaches GitHub has been checked.
Adding a document means adding it to `DOCUMENTS`. Issue 15's design (§1) explains each one;
node ids are opaque and only ever passed back as arguments.
"""

from __future__ import annotations

# -- start-up: ids of the repository, the category and the labels ---------------------------

DISCUSSION_TARGET = """
query DiscussionTarget($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    id nameWithOwner hasDiscussionsEnabled viewerPermission
    discussionCategories(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id name slug isAnswerable }
    }
  }
  rateLimit { cost limit remaining resetAt }
}"""

LABEL_BY_NAME = """
query LabelByName($owner: String!, $name: String!, $label: String!) {
  repository(owner: $owner, name: $name) { label(name: $label) { id name } }
}"""

# After a FORBIDDEN answer to a write: is it the token, or this one object (a locked discussion)?
VIEWER_PERMISSION = """
query ViewerPermission($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) { viewerPermission }
}"""

# A discussion the gateway did not open (one started on GitHub): its node id, to comment on it.
DISCUSSION_ID = """
query DiscussionId($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) { discussion(number: $number) { id } }
}"""

# -- writes ---------------------------------------------------------------------------------

# `CreateDiscussionInput` has no `labelIds`: labels are a second, idempotent write (AddLabels).
CREATE_DISCUSSION = """
mutation CreateDiscussion($input: CreateDiscussionInput!) {
  createDiscussion(input: $input) { discussion { id number url createdAt } }
}"""

ADD_LABELS = """
mutation AddLabels($input: AddLabelsToLabelableInput!) {
  addLabelsToLabelable(input: $input) {
    labelable { __typename ... on Discussion { number labels(first: 20) { nodes { name } } } }
  }
}"""

ADD_DISCUSSION_COMMENT = """
mutation AddDiscussionComment($input: AddDiscussionCommentInput!) {
  addDiscussionComment(input: $input) { comment { id databaseId url createdAt replyTo { id } } }
}"""

# -- issue 16: answers, closing, reactions, labels off -------------------------------------------
# Each is idempotent on GitHub (a repeat changes nothing), selects no connection but the labels
# (1 point) and, being a mutation, weighs 5 of GitHub's secondary points; only `addReaction`
# creates content. `markDiscussionCommentAsAnswer` takes top-level comments only (UNPROCESSABLE
# for a reply: mark its `replyTo` instead).

MARK_ANSWER = """
mutation MarkAnswer($input: MarkDiscussionCommentAsAnswerInput!) {
  markDiscussionCommentAsAnswer(input: $input) { discussion { id isAnswered } }
}"""

UNMARK_ANSWER = """
mutation UnmarkAnswer($input: UnmarkDiscussionCommentAsAnswerInput!) {
  unmarkDiscussionCommentAsAnswer(input: $input) { discussion { id isAnswered } }
}"""

CLOSE_DISCUSSION = """
mutation CloseDiscussion($input: CloseDiscussionInput!) {
  closeDiscussion(input: $input) { discussion { id closed stateReason } }
}"""

REOPEN_DISCUSSION = """
mutation ReopenDiscussion($input: ReopenDiscussionInput!) {
  reopenDiscussion(input: $input) { discussion { id closed } }
}"""

ADD_REACTION = """
mutation AddReaction($input: AddReactionInput!) {
  addReaction(input: $input) { reaction { content } subject { id } }
}"""

REMOVE_LABELS = """
mutation RemoveLabels($input: RemoveLabelsFromLabelableInput!) {
  removeLabelsFromLabelable(input: $input) {
    labelable { __typename ... on Discussion { number labels(first: 20) { nodes { name } } } }
  }
}"""

# -- finding our writes again by their marker (never search: its index lags) -----------------

RECENT_DISCUSSIONS = """
query RecentDiscussions($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: 25, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { id number url createdAt body author { __typename login } }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

# `Discussion.comments` is top-level only, oldest to newest, with no `orderBy`: paged backwards.
DISCUSSION_COMMENTS = """
query DiscussionComments($owner: String!, $name: String!, $number: Int!, $before: String) {
  repository(owner: $owner, name: $name) {
    discussion(number: $number) {
      id
      comments(last: 50, before: $before) {
        pageInfo { hasPreviousPage startCursor }
        nodes {
          id databaseId url createdAt body author { __typename login }
          replies(last: 50) {
            pageInfo { hasPreviousPage startCursor }
            nodes { id databaseId url createdAt body author { __typename login } }
          }
        }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}"""

COMMENT_REPLIES = """
query CommentReplies($id: ID!, $before: String) {
  node(id: $id) {
    __typename
    ... on DiscussionComment {
      replies(last: 100, before: $before) {
        pageInfo { hasPreviousPage startCursor }
        nodes { id databaseId url createdAt body author { __typename login } }
      }
    }
  }
}"""

# -- reconcile: the state of discussions, every comment and reply ---------------------------

# One discussion as reconcile reads it: state, answer, labels, and its newest 30 top-level
# comments with the newest 10 replies of each. Older comments are paged with OLDER_COMMENTS,
# older replies with COMMENT_REPLIES (`pageInfo.hasPreviousPage`). `author` is null for a deleted
# account ("ghost"); a bot's `login` has no "[bot]" suffix. Cost of 25 of these: 801 connection
# requests, 8 points (issue 15 design, §1.4).
_COMMENT_STATE = """
fragment CommentState on DiscussionComment {
  id databaseId createdAt author { login } body
  replies(last: 10) {
    totalCount
    pageInfo { hasPreviousPage startCursor }
    nodes { databaseId createdAt author { login } body }
  }
}"""

_DISCUSSION_STATE = """
fragment DiscussionState on Discussion {
  id number url title createdAt updatedAt closed closedAt stateReason
  isAnswered answerChosenAt answer { databaseId }
  author { login } category { id name } repository { nameWithOwner }
  labels(first: 20) { nodes { name } }
  comments(last: 30) {
    totalCount
    pageInfo { hasPreviousPage startCursor }
    nodes { ...CommentState }
  }
}""" + _COMMENT_STATE

# `Repository.discussions` has no `since`: reconcile pages by UPDATED_AT DESC and stops at the
# first discussion older than its cursor.
DISCUSSIONS_SINCE = """
query DiscussionsSince($owner: String!, $name: String!, $categoryId: ID, $after: String) {
  repository(owner: $owner, name: $name) {
    discussions(first: 25, after: $after, categoryId: $categoryId,
                orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { ...DiscussionState }
    }
  }
  rateLimit { cost remaining resetAt }
}""" + _DISCUSSION_STATE

# Open tracked discussions by node id, at most 25 per request. A deleted (or no longer visible)
# one is null in `nodes` and GitHub adds a NOT_FOUND error for it.
TRACKED_DISCUSSIONS = """
query TrackedDiscussions($ids: [ID!]!) {
  nodes(ids: $ids) { __typename ... on Discussion { ...DiscussionState } }
  rateLimit { cost remaining resetAt }
}""" + _DISCUSSION_STATE

# The top-level comments before `before` (oldest to newest), for a discussion with more than
# DiscussionState's 30. 101 connection requests: 1 point.
OLDER_COMMENTS = """
query OlderComments($id: ID!, $before: String!) {
  node(id: $id) {
    __typename
    ... on Discussion {
      comments(last: 100, before: $before) {
        pageInfo { hasPreviousPage startCursor }
        nodes { ...CommentState }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}""" + _COMMENT_STATE

DOCUMENTS: dict[str, str] = {
    "DiscussionTarget": DISCUSSION_TARGET,
    "LabelByName": LABEL_BY_NAME,
    "ViewerPermission": VIEWER_PERMISSION,
    "DiscussionId": DISCUSSION_ID,
    "CreateDiscussion": CREATE_DISCUSSION,
    "AddLabels": ADD_LABELS,
    "AddDiscussionComment": ADD_DISCUSSION_COMMENT,
    "RecentDiscussions": RECENT_DISCUSSIONS,
    "DiscussionComments": DISCUSSION_COMMENTS,
    "CommentReplies": COMMENT_REPLIES,
    "DiscussionsSince": DISCUSSIONS_SINCE,
    "TrackedDiscussions": TRACKED_DISCUSSIONS,
    "OlderComments": OLDER_COMMENTS,
    "MarkAnswer": MARK_ANSWER,
    "UnmarkAnswer": UNMARK_ANSWER,
    "CloseDiscussion": CLOSE_DISCUSSION,
    "ReopenDiscussion": REOPEN_DISCUSSION,
    "AddReaction": ADD_REACTION,
    "RemoveLabels": REMOVE_LABELS,
}
"""Operation name → document. Each document holds exactly one operation of that name."""

MUTATIONS = frozenset({
    "CreateDiscussion", "AddLabels", "AddDiscussionComment", "MarkAnswer", "UnmarkAnswer",
    "CloseDiscussion", "ReopenDiscussion", "AddReaction", "RemoveLabels",
})
