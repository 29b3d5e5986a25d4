"""Where GitHub's reference data lives for the tests and the emulator (../shared/reference/github
beside the repository, or the folder $GITHUB_REFERENCE_DIR names): the OpenAPI subset, the GraphQL
schema and real webhook bodies, under `openapi/`, `graphql/` and `webhooks/`."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "GITHUB_REFERENCE_DIR"


def reference_dir() -> Path:
    """The reference data's folder (an empty $GITHUB_REFERENCE_DIR counts as unset)."""
    default = Path(__file__).resolve().parents[3] / "shared" / "reference" / "github"
    return Path(os.environ.get(ENV) or default)
