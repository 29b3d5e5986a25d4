"""TLS client contexts for the gateway's own connections (IMAP, SMTP).

The system trust store with hostname checks, plus the CA file an admin names for a server
with a private certificate. A file that cannot be loaded is a ConfigError naming the setting.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.errors import ConfigError


def client_context(ca_file: Path | None, *, setting: str) -> ssl.SSLContext:
    context = ssl.create_default_context()  # system trust store, hostname checks on
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConfigError(setting, f"cannot load {ca_file}: {reason}",
                              "point it at a PEM file of the CA that signed the server's "
                              "certificate") from None
    return context
