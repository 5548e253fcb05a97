"""`Range` of blob downloads and `Content-Range` of upload chunks: any header gives a span inside the
blob, the whole blob, or "not satisfiable"; never an exception of another kind."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, numbers, tricky_text

from dockyard.http.ranges import RangeNotSatisfiable, parse_content_range, parse_range, upload_range

# Positions up to an exabyte are exact; beyond it every position means "past the end".
exact_positions = st.integers(min_value=0, max_value=10**18 - 1)

sizes = st.one_of(st.integers(min_value=0, max_value=2**40), st.sampled_from([0, 1, 2, 1023]))
positions = st.one_of(st.just(""), numbers)
range_headers = st.one_of(
    st.builds("bytes={}-{}".format, positions, positions),
    st.builds("{}={}-{}".format, st.sampled_from(["bytes", "BYTES", "items", ""]), positions, positions),
    st.lists(st.builds("{}-{}".format, positions, positions), min_size=1, max_size=4).map(
        lambda spans: "bytes=" + ",".join(spans)
    ),
    tricky_text,
)
content_ranges = st.one_of(
    st.builds(
        "{}{}-{}{}".format,
        st.sampled_from(["", "bytes ", "bytes=", "BYTES ", "bytes  "]),
        numbers,
        numbers,
        st.one_of(st.just(""), st.just("/*"), numbers.map("/{}".format)),
    ),
    tricky_text,
)


@FUZZ
@given(range_headers, sizes)
@example("bytes=0-" + "9" * 5000, 10)
@example("bytes=" + "9" * 5000 + "-", 10)
@example("bytes=-" + "9" * 5000, 10)
@example("bytes=²-", 10)
@example("bytes=\u0661-\u0663", 10)
def test_a_range_is_a_span_inside_the_blob_or_refused(header: str, size: int) -> None:
    try:
        span = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if span is None:  # several ranges: the whole blob
        return
    start, end = span
    assert 0 <= start < end <= size


@FUZZ
@given(exact_positions, exact_positions, sizes)
def test_well_formed_ranges_mean_what_they_say(first: int, last: int, size: int) -> None:
    header = f"bytes={first}-{last}"
    try:
        span = parse_range(header, size)
    except RangeNotSatisfiable:
        assert first >= size or last < first
        return
    assert span == (first, min(last + 1, size))


@FUZZ
@given(content_ranges)
@example("0-" + "9" * 5000)
@example("²-³")
@example("bytes \u0661-\u0663")
def test_a_content_range_is_an_ordered_pair_or_malformed(header: str) -> None:
    span = parse_content_range(header)
    if span is not None:
        first, last = span
        assert 0 <= first <= last


@FUZZ
@given(exact_positions, exact_positions)
def test_content_ranges_round_trip(first: int, last: int) -> None:
    for prefix in ("", "bytes ", "bytes="):
        expected = (first, last) if last >= first else None
        assert parse_content_range(f"{prefix}{first}-{last}") == expected


@FUZZ
@given(st.integers(min_value=1, max_value=10**18))
def test_the_upload_range_names_the_last_byte_received(size: int) -> None:
    assert parse_content_range(upload_range(size)) == (0, size - 1)
