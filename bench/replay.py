"""Benchmark: replay throughput of the whole inbound pipeline beside mail-parser's parse-only rate.

Generates a realistic corpus (threads with quoted replies, HTML and multipart/alternative,
attachments, five charsets, auto-replies, GitHub notifications, bounces), then runs, each in its
own child process so peak RSS is per phase:

  parse    mailparser.parse_from_bytes over every message (the floor: what parsing alone costs)
  replay   the replay code path (store raw, parse, classify, thread, decide, record) with the
           state in a throwaway SQLite database, exactly as `replay --dry-run` does
  replay-full  the same into a --state database with synchronous=FULL (the daemon's setting)

Prints messages/s, the ratio to parse-only, and peak RSS. Not a pass/fail test.

    .venv/bin/python bench/replay.py [--messages 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIST = "visit-users@elist.ornl.gov"
FOOTER = (
    "\n_______________________________________________\nvisit-users mailing list\n"
    f"{LIST}\nhttps://elist.ornl.gov/mailman/listinfo/visit-users\n"
)
TOPICS = [
    "Pseudocolor plot of a zonal variable",
    "Client/server to TACC Frontera",
    "Computing the mass in a material",
    "Silo reader fails on multi-block file",
    "Python CLI: SaveWindow produces black images",
    "Parallel engine launch on Slurm",
    "Host profile for NERSC Perlmutter",
    "Surface plot of a 2D slice",
    "Expression with conditional",
    "Volume rendering is slow",
    "Query over time",
]
CHARSETS = [
    ("utf-8", "Grüße, voilà — ça marche"),
    ("iso-8859-1", "Grüße aus München, à bientôt"),
    ("windows-1252", "“Quoted” text \u2013 costs 5 €"),
    ("koi8-r", "Привет, визуализация"),
    ("iso-2022-jp", "可視化の質問です"),
    ("big5", "視覺化問題"),
]
NAMES = [
    "Jane Roe",
    "Ana Lima",
    "Wei Zhang",
    "Jürgen Müller",
    "Olga Ivanova",
    "Kenji Sato",
    "Mark Miller",
    "Cyrus Harrison",
    "Priya Natarajan",
    "Tom Baker",
]


def _body(rng: random.Random, words: int) -> str:
    vocab = [
        "the",
        "plot",
        "operator",
        "database",
        "engine",
        "mesh",
        "variable",
        "zone",
        "node",
        "material",
        "slice",
        "render",
        "window",
        "session",
        "host",
        "profile",
        "launcher",
        "parallel",
        "expression",
        "query",
        "time",
        "state",
        "cycle",
        "file",
        "reader",
        "plugin",
        "error",
        "crash",
        "works",
        "fails",
    ]
    lines = []
    for _ in range(max(1, words // 12)):
        lines.append(" ".join(rng.choice(vocab) for _ in range(12)))
    return "\n".join(lines)


def _message(
    rng: random.Random, index: int, when: dt.datetime, thread: dict | None, kind: str
) -> tuple[EmailMessage, dict]:
    msg = EmailMessage()
    name = rng.choice(NAMES)
    addr = name.lower().replace(" ", ".").encode("ascii", "ignore").decode() + "@example.edu"
    msg["From"] = f"{name} <{addr}>"
    msg["To"] = LIST
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(f"b{index}", domain="mail.example.edu")
    msg["List-Id"] = "VisIt Users <visit-users.elist.ornl.gov>"
    msg["Precedence"] = "list"
    charset, sample = rng.choice(CHARSETS) if rng.random() < 0.25 else CHARSETS[0]
    text = f"{sample}\n\n{_body(rng, rng.randint(40, 600))}"
    if rng.random() < 0.05:
        text += "\n\n" + "\n".join(f"[{i:05d}] engine log line {rng.random()}" for i in range(400))
    if kind == "reply" and thread is not None:
        msg["Subject"] = f"Re: [visit-users] {thread['topic']}"
        msg["In-Reply-To"] = thread["ids"][-1]
        msg["References"] = " ".join(thread["ids"][-5:])
        quoted = "\n".join("> " + line for line in thread["text"].splitlines()[:30])
        text += f"\n\nOn {format_datetime(when)}, {thread['name']} wrote:\n{quoted}"
    elif kind == "auto":
        msg["Subject"] = f"Automatic reply: [visit-users] {rng.choice(TOPICS)}"
        msg["Auto-Submitted"] = "auto-replied"
    elif kind == "github":
        number = rng.randint(1, 400)
        del msg["From"], msg["Message-ID"]
        msg["From"] = "Cyrus Harrison <notifications@github.com>"
        msg["Message-ID"] = f"<visit-dav/live-customer-response/issues/{number}/{index}@github.com>"
        msg["X-GitHub-Reason"] = "subscribed"
        msg["Subject"] = f"Re: [visit-dav/live-customer-response] Q (Issue #{number})"
    else:
        topic = rng.choice(TOPICS)
        msg["Subject"] = f"[visit-users] {topic}"
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    text += FOOTER
    style = rng.random()
    if style < 0.55:
        msg.set_content(text, charset=charset)
    else:
        html = (
            "<html><body>"
            + "".join(f"<p>{line.replace('<', '&lt;')}</p>" for line in text.splitlines() if line)
            + "</body></html>"
        )
        if style < 0.9:
            msg.set_content(text, charset=charset)
            msg.add_alternative(html, subtype="html", charset="utf-8")
        else:
            msg.set_content(html, subtype="html", charset="utf-8")
    if rng.random() < 0.12:
        blob = rng.randbytes(rng.randint(2_000, 120_000))
        msg.add_attachment(blob, maintype="image", subtype="png", filename="screenshot.png")
    if rng.random() < 0.05:
        msg.add_attachment("import visit\nOpenDatabase('x.silo')\n", filename="script.py")
    info = {
        "topic": msg["Subject"].removeprefix("[visit-users] "),
        "name": name,
        "text": text[:2000],
    }
    return msg, info


def generate(directory: Path, count: int, seed: int) -> int:
    rng = random.Random(seed)
    when = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    threads: list[dict] = []
    total = 0
    for index in range(count):
        when += dt.timedelta(minutes=rng.randint(1, 40))
        roll = rng.random()
        kind = (
            "new"
            if roll < 0.35 or not threads
            else "reply"
            if roll < 0.88
            else "auto"
            if roll < 0.94
            else "github"
            if roll < 0.98
            else "bounce"
        )
        if kind == "bounce":
            raw = (
                f"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {LIST}\r\n"
                f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(when)}"
                f"\r\nMessage-ID: <bounce{index}@mx.example.org>\r\nX-Failed-Recipients: "
                f"gone@example.org\r\n\r\nThis is the mail system.\r\n"
            ).encode()
        else:
            thread = rng.choice(threads[-30:]) if kind == "reply" and threads else None
            msg, info = _message(rng, index, when, thread, kind)
            raw = msg.as_bytes()
            if kind == "new":
                threads.append({**info, "ids": [msg["Message-ID"]]})
            elif kind == "reply" and thread is not None:
                thread["ids"].append(msg["Message-ID"])
        (directory / f"{index:05d}.eml").write_bytes(raw)
        total += len(raw)
    return total


def _phase(phase: str, directory: Path) -> None:
    files = sorted(directory.glob("*.eml"))
    raws = [path.read_bytes() for path in files]
    if phase == "parse":
        import mailparser

        start = time.perf_counter()
        for raw in raws:
            mailparser.parse_from_bytes(raw)
        elapsed = time.perf_counter() - start
    else:
        import io

        from gateway.config.loader import load_config
        from gateway.inbound.replay import run_replay
        from gateway.log import configure
        from gateway.wiring import pipeline_settings

        configure("warning", "json", sys.stderr)  # as replay runs: warnings only
        config = load_config(ROOT / "config" / "gateway.example.toml", env={})
        state = None
        if phase == "replay-full":
            state = f"sqlite:///{directory / 'state-full.db'}"
        start = time.perf_counter()
        counts = run_replay(
            [directory],
            settings=pipeline_settings(config),
            assignee_for=lambda _t: None,
            state_url=state,
            dry_run=True,
            fmt="json",
            out=io.StringIO(),
            now=dt.datetime.now(dt.UTC),
        )
        elapsed = time.perf_counter() - start
        assert sum(counts.values()) == len(raws), counts
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "phase": phase,
                "messages": len(raws),
                "seconds": elapsed,
                "rate": len(raws) / elapsed,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per phase; the fastest is reported (default 3)")
    parser.add_argument("--phase", choices=["parse", "replay", "replay-full"])
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    if args.phase:
        _phase(args.phase, args.dir)
        return
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        directory = Path(tmp)
        size = generate(directory, args.messages, args.seed)
        print(f"corpus: {args.messages} messages, {size / 1e6:.1f} MB, seed {args.seed}; "
              f"best of {args.repeat} runs per phase")
        # Rounds interleave the phases so a noisy moment on the machine hits all of them.
        runs: dict[str, list[dict]] = {"parse": [], "replay": [], "replay-full": []}
        for _ in range(args.repeat):
            for phase in runs:
                (directory / "state-full.db").unlink(missing_ok=True)
                out = subprocess.run(
                    [sys.executable, __file__, "--phase", phase, "--dir", tmp],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[phase].append(json.loads(out.stdout.strip().splitlines()[-1]))
        results = {phase: max(rows, key=lambda row: row["rate"]) for phase, rows in runs.items()}
        parse_rate = results["parse"]["rate"]
        print(f"{'phase':<34}{'msg/s':>10}{'vs parse':>10}{'peak RSS':>11}")
        labels = {
            "parse": "mail-parser parse only",
            "replay": "replay --dry-run (throwaway SQLite)",
            "replay-full": "replay --state (SQLite, sync=FULL)",
        }
        for phase, row in results.items():
            print(
                f"{labels[phase]:<34}{row['rate']:>10.0f}{row['rate'] / parse_rate:>10.2f}"
                f"{row['peak_rss_mb']:>8.0f} MB"
            )


if __name__ == "__main__":
    main()
