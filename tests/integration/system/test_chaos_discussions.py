"""Chaos in discussions mode (test_chaos.py has the plan and the checks): with every GraphQL
fault kind on every mutation and on the reads that find a write again, one labelled discussion
per thread, one notice naming the Primary, then one comment per reply in order; attachments
stored and linked once. A module of its own so that it runs beside the issues-mode run."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.testing.dovecot import DovecotServer
from gateway.testing.github_emulator import Emulator

from .test_chaos import _chaos
from .test_chaos import emulator as emulator  # the same emulator fixture

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_chaos_in_discussions_mode_loses_and_duplicates_nothing(
        tmp_path: Path, dovecot: DovecotServer, emulator: tuple[Emulator, str, str]) -> None:
    emu, url, token = emulator
    _chaos(tmp_path, dovecot, emu, url, token, discussions=True)
