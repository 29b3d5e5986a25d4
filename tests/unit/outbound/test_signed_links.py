"""Signed, expiring attachment links (issue 17): tampering with any part, or waiting, breaks
them."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.outbound.signed_links import LinkCheck, check, link, sign, verify

SECRET = b"attachment link secret"
PATH = "0123456789abcdef/0-report.pdf"
EXPIRES = 1_800_000_000
BEFORE = EXPIRES - 1


def test_sign_is_hex_hmac_sha256_and_deterministic() -> None:
    sig = sign(PATH, EXPIRES, SECRET)
    assert len(sig) == 64 and int(sig, 16) >= 0
    assert sig == sign(PATH, EXPIRES, SECRET)
    assert sig != hmac.new(SECRET, PATH.encode(), hashlib.sha256).hexdigest()  # expiry counts


def test_a_fresh_link_verifies() -> None:
    assert verify(PATH, EXPIRES, sign(PATH, EXPIRES, SECRET), SECRET, BEFORE)
    assert check(PATH, EXPIRES, sign(PATH, EXPIRES, SECRET), SECRET, 0) is LinkCheck.VALID


@pytest.mark.parametrize(("path", "expires", "secret"), [
    ("0123456789abcdef/0-report.pdX", EXPIRES, SECRET),  # tampered path
    ("0123456789abcdef/1-report.pdf", EXPIRES, SECRET),
    ("0123456789abcdef/../0-report.pdf", EXPIRES, SECRET),
    (PATH, EXPIRES + 1, SECRET),  # tampered expiry: a longer life
    (PATH, EXPIRES - 1, SECRET),
    (PATH, EXPIRES, b"another secret"),  # wrong secret
])
def test_tampering_is_forgery(path: str, expires: int, secret: bytes) -> None:
    sig = sign(PATH, EXPIRES, SECRET)
    assert not verify(path, expires, sig, secret, BEFORE - 10)
    assert check(path, expires, sig, secret, BEFORE - 10) is LinkCheck.FORGED


@pytest.mark.parametrize("sig", ["", "0" * 64, "zz", sign(PATH, EXPIRES, SECRET).upper(),
                                 sign(PATH, EXPIRES, SECRET)[:-1], "é" * 64, "\udc80"])
def test_a_malformed_or_wrong_signature_is_forgery(sig: str) -> None:
    assert check(PATH, EXPIRES, sig, SECRET, BEFORE) is LinkCheck.FORGED


@pytest.mark.parametrize(("now", "result"), [
    (BEFORE, LinkCheck.VALID),
    (EXPIRES, LinkCheck.EXPIRED),  # exactly at expiry: expired
    (EXPIRES + 1, LinkCheck.EXPIRED),
    (EXPIRES + 10**9, LinkCheck.EXPIRED),
])
def test_expiry(now: int, result: LinkCheck) -> None:
    sig = sign(PATH, EXPIRES, SECRET)
    assert check(PATH, EXPIRES, sig, SECRET, now) is result
    assert verify(PATH, EXPIRES, sig, SECRET, now) is (result is LinkCheck.VALID)


def test_an_expired_forgery_is_forgery_not_expiry() -> None:
    assert check(PATH, EXPIRES, "0" * 64, SECRET, EXPIRES + 5) is LinkCheck.FORGED


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign(PATH, EXPIRES, b"")


def test_link_shape() -> None:
    url = link("https://gw.example.org/", PATH, EXPIRES, SECRET)
    assert url == (f"https://gw.example.org/attachments/{PATH}"
                   f"?expires={EXPIRES}&sig={sign(PATH, EXPIRES, SECRET)}")


@given(st.text(min_size=1, max_size=200), st.integers(0, 2**40))
def test_a_link_round_trips_through_url_decoding(path: str, expires: int) -> None:
    url = urlsplit(link("https://gw.example.org", path, expires, SECRET))
    assert url.netloc == "gw.example.org"
    assert url.path.startswith("/attachments/") and "?" not in url.path and "#" not in url.path
    back = unquote(url.path.removeprefix("/attachments/"), errors="surrogatepass")
    query = parse_qs(url.query, strict_parsing=True)
    assert verify(back, int(query["expires"][0]), query["sig"][0], SECRET, expires - 1)
