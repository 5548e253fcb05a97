import pytest

from dockyard.http.ranges import RangeNotSatisfiable, parse_content_range, parse_range, upload_range


@pytest.mark.parametrize(
    ("header", "size", "span"),
    [
        ("bytes=0-9", 100, (0, 10)),
        ("bytes=10-", 100, (10, 100)),
        ("bytes=-10", 100, (90, 100)),
        ("bytes=-500", 100, (0, 100)),
        ("bytes=90-500", 100, (90, 100)),
        ("bytes=0-0", 1, (0, 1)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole blob
    ],
)
def test_satisfiable_ranges(header: str, size: int, span: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == span


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=5-2", 100),
        ("bytes=-0", 100),
        ("bytes=-", 100),
        ("items=0-1", 100),
        ("bytes=a-b", 100),
        ("bytes=0-1", 0),
        ("bytes=99999999999999999999-", 100),
    ],
)
def test_unsatisfiable_or_malformed_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes 0-9", (0, 9)),
        ("0-9", (0, 9)),
        ("bytes=5-5", (5, 5)),
        ("bytes 0-9/10", (0, 9)),
        ("0-9/*", (0, 9)),
        ("9-0", None),
        ("x", None),
        ("bytes -9", None),
    ],
)
def test_upload_content_range(header: str, span: tuple[int, int] | None) -> None:
    assert parse_content_range(header) == span


def test_upload_range_reports_the_last_byte_received() -> None:
    assert upload_range(0) == "0-0"
    assert upload_range(10) == "0-9"
