"""The packages of `gateway`, lowest first, and the one rule between them: imports go down.

A module may import from its own package, from the base modules and from any package listed
before its own; never from one listed after it. The composition root (`cli`, `app`,
`components`, `wiring`) may import anything; nothing imports it. `testing` holds test support
(the GitHub emulator, Dovecot harness, in-memory twins) and may import anything; no production
module imports it.
`tests/unit/house/test_layers.py` checks every import in `gateway/` against this list.
"""

from __future__ import annotations

BASE = ("models", "errors", "clock", "log", "tls", "layers")
PACKAGES = ("config", "store", "duty", "inbound", "outbound", "tracking", "weekly", "report",
            "web", "ops")
ROOT = ("cli", "app", "components", "wiring")
TEST_SUPPORT = "testing"
