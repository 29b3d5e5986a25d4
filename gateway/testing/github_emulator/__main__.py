"""Run the GitHub emulator by hand: `python -m gateway.testing.github_emulator --port 8080
--repo acme/visit-users --token T`. Prints the base URL, serves until interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .emulator import Emulator
from .limits import Limits


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.testing.github_emulator",
        description="Serve an in-memory GitHub API (REST and GraphQL).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="create a repository (repeatable)",
    )
    parser.add_argument("--public", action="store_true", help="create the repos as public")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="[LOGIN=]TOKEN",
        help="accept TOKEN for LOGIN (default: the first repo's owner)",
    )
    parser.add_argument(
        "--collaborator",
        action="append",
        default=[],
        metavar="LOGIN[:PERMISSION]",
        help="add to every repo (default write)",
    )
    parser.add_argument(
        "--discussion-category",
        action="append",
        default=[],
        metavar="NAME",
        help="turn Discussions on in every repo and add this category (repeatable)",
    )
    parser.add_argument(
        "--label", action="append", default=[], metavar="NAME",
        help="create this label in every repo (repeatable)",
    )
    parser.add_argument("--webhook-url", help="deliver webhooks here")
    parser.add_argument("--webhook-secret", help="sign deliveries with this secret")
    parser.add_argument("--core-limit", type=int, default=5000, help="requests per hour")
    parser.add_argument(
        "--secondary-limits",
        action="store_true",
        help="enforce 80 content requests a minute and 500 an hour",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> Emulator:
    emulator = Emulator(
        seed=args.seed, limits=Limits(core=args.core_limit, secondary=args.secondary_limits)
    )
    for name in args.repo:
        emulator.add_repo(name, private=not args.public)
    default_login = args.repo[0].split("/")[0] if args.repo else "octocat"
    for spec in args.token:
        login, sep, token = spec.rpartition("=")
        emulator.add_token(login if sep else default_login, token)
    for spec in args.collaborator:
        login, _, permission = spec.partition(":")
        for name in args.repo:
            emulator.add_collaborator(name, login, permission or "write")
    for name in args.repo:
        if args.discussion_category:
            emulator.enable_discussions(name)
        for category in args.discussion_category:
            emulator.add_discussion_category(name, category)
        for label in args.label:
            emulator.add_label(name, label)
    if args.webhook_url:
        emulator.add_webhook(args.webhook_url, args.webhook_secret)
    return emulator


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    emulator = build(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with emulator.serve(args.host, args.port) as url:
        print(url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
