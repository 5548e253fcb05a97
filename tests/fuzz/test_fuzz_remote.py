"""What another registry answers is untrusted too (a pull-through cache or replication talks to
registries dockyard does not control): its challenges, Retry-After, Content-Range, upload Range and
error bodies parse into something sane or into nothing, never into an exception."""

from __future__ import annotations

import json
import math

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.manifests import json_values
from tests.fuzz.strategies import FUZZ, numbers, tricky_text

from dockyard.remote.headers import (
    parse_challenges,
    parse_content_range,
    parse_error_body,
    parse_retry_after,
    upload_offset,
)

NOW = 1_800_000_000.0
_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@FUZZ
@given(st.lists(st.one_of(tricky_text, _VALUE), max_size=3))
@example(['Bearer realm="a\\', "Basic ,,,", 'Bearer realm="x", scope="a"b"'])
@example(["Bearer " + "a=" * 5000])
def test_challenges_are_read_or_skipped(values: list[str]) -> None:
    for challenge in parse_challenges(values):
        assert challenge.scheme == challenge.scheme.lower()
        assert all(name == name.lower() for name in challenge.params)


@FUZZ
@given(_TOKEN, st.dictionaries(_TOKEN.map(str.lower), _VALUE, max_size=4))
def test_challenges_round_trip(scheme: str, params: dict[str, str]) -> None:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    header = scheme + " " + ", ".join(f"{name}={quoted(value)}" for name, value in params.items())
    (challenge,) = parse_challenges([header])
    assert challenge.scheme == scheme.lower()
    assert challenge.params == params


@FUZZ
@given(st.one_of(numbers, tricky_text, st.just("Wed, 21 Oct 2026 07:28:00 GMT"), st.none()))
@example("²")
@example("9" * 5000)
@example("Mon, 99 Foo 99999 99:99:99 GMT")
def test_retry_after_is_a_finite_wait_or_none(value: str | None) -> None:
    wait = parse_retry_after(value, NOW)
    if wait is not None:
        assert math.isfinite(wait)
        assert wait >= 0


@FUZZ
@given(st.one_of(st.builds("bytes {}-{}/{}".format, numbers, numbers, st.one_of(numbers, st.just("*"))), tricky_text))
@example("bytes 0-" + "9" * 5000 + "/*")
@example("bytes ²-³/*")
def test_a_content_range_is_ordered_or_none(value: str) -> None:
    span = parse_content_range(value)
    if span is not None:
        first, last, total = span
        assert 0 <= first <= last
        assert total is None or last < total


@FUZZ
@given(st.one_of(st.builds("0-{}".format, numbers), st.builds("bytes=0-{}".format, numbers), tricky_text))
@example("0-" + "9" * 5000)
@example("0-²")
def test_an_upload_offset_is_a_count_or_none(value: str) -> None:
    offset = upload_offset(value)
    assert offset is None or offset >= 0


@FUZZ
@given(st.one_of(json_values.map(lambda value: json.dumps(value).encode()), st.binary(max_size=64)))
@example(b"[" * 100_000)
@example(b'{"errors": [{"code": "X", "message": 1}, 5, {"code": ["Y"]}]}')
def test_error_bodies_give_codes_and_messages_or_nothing(body: bytes) -> None:
    parsed = parse_error_body(body)
    assert len(parsed.codes) == len(parsed.messages)
    assert all(isinstance(code, str) for code in parsed.codes)
    assert isinstance(parsed.describe(), str)
