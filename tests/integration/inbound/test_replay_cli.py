"""`visit-gateway replay` as a user runs it: every source format, both output formats, state
kept across runs with --state, and clear one-line errors for bad input."""

from __future__ import annotations

import json
import mailbox
import subprocess
from pathlib import Path

import pytest

from gateway.store.migrate import head_revision
from tests.unit.mail import raw

from ...conftest import EXAMPLE_CONFIG, FIXTURES, example_config_file
from ..cli import run_cli

ROOT_MSG = raw({"Message-ID": "<root@univ.edu>", "Date": "Tue, 3 Mar 2026 09:00:00 -0800"},
               "How do I make a surface plot?\n")
REPLY_MSG = raw({"Message-ID": "<reply@lab.gov>", "From": "Bob <bob@lab.gov>",
                 "In-Reply-To": "<root@univ.edu>", "Subject": "Re: [visit-users] A question",
                 "Date": "Tue, 3 Mar 2026 10:00:00 -0800"}, "Use the Elevate operator.\n")
AUTO_MSG = raw({"Message-ID": "<ooo@lab.gov>", "Auto-Submitted": "auto-replied",
                "Date": "Tue, 3 Mar 2026 11:00:00 -0800"}, "I am away.\n")
REQUIRED = {"key", "message_id", "verdict", "reason", "thread", "actions"}


def replay(*args: str, config: Path = EXAMPLE_CONFIG) -> subprocess.CompletedProcess[str]:
    return run_cli("replay", "--config", str(config), *args)


def _json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _check_three(objs: list[dict[str, object]]) -> None:
    assert [(o["verdict"], o["reason"]) for o in objs] == [
        ("new", "new-thread"), ("reply", "in-reply-to"), ("ignore", "auto-submitted")]
    assert objs[0]["thread"] == objs[1]["thread"]
    for obj in objs:
        assert set(obj) >= REQUIRED
    create = objs[0]["actions"][0]  # type: ignore[index]
    assert create["kind"] == "create_issue" and create["title"] == "A question"
    assert create["labels"] == ["customer-response"] and "assignee" in create
    assert "How do I make a surface plot?" in create["body"]
    assert objs[1]["actions"][0]["kind"] == "add_comment"  # type: ignore[index]


def test_eml_directory_in_date_order(tmp_path: Path) -> None:
    # File names sort the reply first; the Date header must put the question first.
    (tmp_path / "a-reply.eml").write_bytes(REPLY_MSG)
    (tmp_path / "b-question.eml").write_bytes(ROOT_MSG)
    (tmp_path / "c-auto.eml").write_bytes(AUTO_MSG)
    (tmp_path / "notes.txt").write_text("not mail")
    done = replay(str(tmp_path), "--dry-run", "--format", "json")
    assert done.returncode == 0, done.stderr
    _check_three(_json_lines(done.stdout))
    assert "1 new, 1 reply" in done.stderr and "dry run" in done.stderr


def test_mbox_and_maildir(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "list.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for message in (ROOT_MSG, REPLY_MSG, AUTO_MSG):
        box.add(message)
        maildir.add(message)
    box.close()
    for source in ("list.mbox", "Maildir"):
        done = replay(str(tmp_path / source), "--dry-run", "--format", "json")
        assert done.returncode == 0, done.stderr
        _check_three(_json_lines(done.stdout))


def test_single_files_share_thread_state_in_argument_order(tmp_path: Path) -> None:
    (tmp_path / "q.eml").write_bytes(ROOT_MSG)
    (tmp_path / "r.eml").write_bytes(REPLY_MSG)
    done = replay(str(tmp_path / "q.eml"), str(tmp_path / "r.eml"), "--dry-run",
                  "--format", "json")
    objs = _json_lines(done.stdout)
    assert [o["verdict"] for o in objs] == ["new", "reply"]
    assert objs[0]["thread"] == objs[1]["thread"]


def test_state_persists_and_second_run_is_all_duplicates(tmp_path: Path) -> None:
    (tmp_path / "q.eml").write_bytes(ROOT_MSG)
    state = tmp_path / "state.db"
    first = replay(str(tmp_path / "q.eml"), "--dry-run", "--state", str(state), "--format",
                   "json")
    second = replay(str(tmp_path / "q.eml"), "--dry-run", "--state", str(state), "--format",
                    "json")
    assert _json_lines(first.stdout)[0]["verdict"] == "new"
    again = _json_lines(second.stdout)[0]
    assert (again["verdict"], again["reason"]) == ("ignore", "duplicate")
    assert again["thread"] == _json_lines(first.stdout)[0]["thread"]


def test_text_format_is_one_readable_line_per_message(tmp_path: Path) -> None:
    (tmp_path / "q.eml").write_bytes(ROOT_MSG)
    (tmp_path / "r.eml").write_bytes(REPLY_MSG)
    done = replay(str(tmp_path), "--dry-run")
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("new") and '"A question"' in lines[0] and "q.eml" in lines[0]
    assert lines[1].startswith("reply") and "comment" in lines[1]


def test_the_fixture_corpus_replays_without_error() -> None:
    done = replay(str(FIXTURES), "--dry-run", "--format", "json")
    assert done.returncode == 0, done.stderr
    objs = _json_lines(done.stdout)
    assert len(objs) == len(list(FIXTURES.glob("*.eml"))) >= 40
    assert {o["verdict"] for o in objs} == {"new", "reply", "ignore", "quarantine"}


def test_bad_config_is_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.toml"
    bad.write_text('[github]\nrepositry = "a/b"\n')
    done = replay(str(FIXTURES), "--dry-run", config=bad)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "github.repositry: unknown key; did you mean 'repository'?" in done.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    done = replay(str(tmp_path / "nope"), "--dry-run")
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "state" / "state.db"}"\n')
    db = tmp_path / "state" / "state.db"
    head = head_revision()
    # `current` on a database that does not exist says so and does not create it.
    done = run_cli("db", "current", "--config", str(config))
    assert (done.returncode, done.stdout.strip()) == (0, f"{db}: no database yet, head {head}")
    assert not db.exists()
    done = run_cli("db", "upgrade", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"{db}: at revision {head} (was empty)" in done.stdout
    done = run_cli("db", "current", "--config", str(config))
    assert done.stdout.strip() == f"{db}: current {head}, head {head}"


@pytest.mark.usefixtures("restored_logging")
def test_a_dry_run_needs_no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13: someone who just installed the package runs `replay --dry-run mail.eml` with
    no config anywhere; it runs on the built-in defaults and says so in one line."""
    import gateway.config.loader
    from gateway.cli import main

    monkeypatch.setattr(gateway.config.loader, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")
    monkeypatch.delenv("VISIT_GATEWAY_CONFIG", raising=False)
    fixture = FIXTURES / "gmail-mentions-user-and-team.eml"
    assert main(["replay", "--dry-run", str(fixture)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("new ") and "new-thread" in out
    notes = [line for line in err.splitlines() if "built-in defaults" in line]
    assert len(notes) == 1 and str(tmp_path / "absent.toml") in notes[0]
    # Not a dry run: the missing configuration is still an error that names the fix.
    assert main(["replay", str(fixture)]) == 2
    assert "does not exist" in capsys.readouterr().err
    # An explicitly named configuration that is missing is never replaced by defaults.
    monkeypatch.setenv("VISIT_GATEWAY_CONFIG", str(tmp_path / "named.toml"))
    assert main(["replay", "--dry-run", str(fixture)]) == 2


def test_a_dry_run_shows_the_known_issue_search_it_would_make(tmp_path: Path) -> None:
    config = example_config_file(tmp_path, tmp_path / "state.db")
    text = config.read_text()
    assert 'product_repository = ""' in text
    config.write_text(text.replace('product_repository = ""',
                                   'product_repository = "visit-dav/visit"'))
    (tmp_path / "q.eml").write_bytes(raw({"Message-ID": "<silo@univ.edu>", "Subject":
                                          "[visit-users] Crash opening a Silo file"}, "Help\n"))
    done = replay(str(tmp_path / "q.eml"), "--dry-run", "--format", "json", config=config)
    assert done.returncode == 0, done.stderr
    [create] = _json_lines(done.stdout)[0]["actions"]  # type: ignore[misc]
    assert create["known_issues"] == {"repository": "visit-dav/visit",
                                      "terms": ["Silo", "crash", "opening"]}
    plain = replay(str(tmp_path / "q.eml"), "--dry-run", "--format", "json")
    assert "known_issues" not in _json_lines(plain.stdout)[0]["actions"][0]  # type: ignore[index]
