"""visit-gateway: run customer response in GitHub while users keep mailing a list.

The package is a functional core (parse, classify, thread, decide, business time, schedule,
tracking) inside a thin imperative shell (IMAP, GitHub, SMTP, HTTP, database adapters).
"""

__version__ = "0.1.0"
