"""Test doubles that speak real protocols over real sockets.

`github_emulator` is an in-memory GitHub (REST API, App auth, rate limits, fault injection and
webhook deliveries) served by aiohttp on loopback, so tests and benchmarks can run the gateway as
a subprocess against it; `dovecot` and `postgres` run private, real servers in temporary
directories. Nothing here is imported by the daemon itself.
"""
