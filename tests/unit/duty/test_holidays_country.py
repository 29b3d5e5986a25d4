"""`business.holidays_country` and `holidays_subdivision` accept exactly what the holidays
package lists, now that a start imports only the configured country's module."""

from __future__ import annotations

import holidays
import pytest

from gateway.duty.business_config import _check_country
from gateway.errors import ConfigError


def test_every_listed_country_and_subdivision_is_accepted_and_nothing_else() -> None:
    supported = holidays.list_supported_countries()  # aliases too: "UK", "USA"
    assert len(supported) > 400
    for code, subdivisions in supported.items():
        assert _check_country(code.lower(), None, "t") == (code, None)
        for sub in subdivisions:
            assert _check_country(code, sub.lower(), "t") == (code, sub)
        with pytest.raises(ConfigError, match="has no subdivision"):
            _check_country(code, "NO-SUCH-PLACE", "t")


@pytest.mark.parametrize(("country", "hint"), [("XX", None), ("", None), ("USS", "US")])
def test_an_unknown_country_names_the_key_and_a_close_code(country: str, hint: str | None) -> None:
    with pytest.raises(ConfigError) as raised:
        _check_country(country, None, "gateway.toml")
    assert raised.value.key == "business.holidays_country"
    if hint is not None:
        assert f'did you mean "{hint}' in str(raised.value)
