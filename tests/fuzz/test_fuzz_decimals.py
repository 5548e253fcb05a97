"""The one parser of numbers in headers and query parameters (Content-Length, n, offsets, grants)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, numbers

from dockyard.core.decimals import MAX_DIGITS, parse_decimal


@FUZZ
@given(numbers)
@example("²")
@example("\u0661\u0662")
@example(" 1")
@example("1_000")
@example("+1")
@example("9" * 5000)
@example("0" * 5000 + "7")
def test_only_ascii_digits_are_numbers(text: str) -> None:
    value = parse_decimal(text)
    if value is None:
        return
    assert text.isascii()
    assert text.isdigit()
    assert value == int(text.lstrip("0") or "0")
    assert value < 10**MAX_DIGITS


@FUZZ
@given(st.integers(min_value=0, max_value=10**MAX_DIGITS - 1), st.integers(min_value=0, max_value=20))
def test_numbers_round_trip_with_any_leading_zeros(value: int, zeros: int) -> None:
    assert parse_decimal("0" * zeros + str(value)) == value


@FUZZ
@given(st.integers(min_value=1, max_value=MAX_DIGITS))
def test_a_smaller_digit_limit_refuses_longer_numbers(limit: int) -> None:
    assert parse_decimal("9" * limit, limit) == 10**limit - 1
    assert parse_decimal("1" + "0" * limit, limit) is None
