"""What the property tests of untrusted input share: their hypothesis settings and the strategies
that build hostile input.

In CI (`CI` set) every run draws the same examples (derandomized), so a failure there reproduces
anywhere; DOCKYARD_FUZZ_EXAMPLES raises the number of examples for a longer run at one's desk.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

IN_CI = bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("DOCKYARD_FUZZ_EXAMPLES", "200"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=IN_CI,
    database=None if IN_CI else settings.default.database,
    suppress_health_check=[HealthCheck.too_slow],
)
"""The settings of every property test of a parser."""
FUZZ_COSTLY = settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))
"""For tests whose every example signs a token (a millisecond or more each)."""

MESSAGE_MAX = 1200
"""The longest error message any input may produce: messages quote at most about a hundred characters
of what they refuse, each at most ten once escaped (`\\U0001f600`)."""

# Characters that break parsers written for ASCII: other scripts' digits, superscripts, controls,
# the NUL byte, separators, lone surrogates, a BOM.
TRICKY_CHARACTERS = (
    "0123456789²³¹\u0661\u0662\u0663\u06f4\u09e6\x00\t\n\r \x7f\x85\u2028\ufeff\ud800\udfff:/.-_+=,;%*@#éÄ\u0130"
)

tricky_text = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY_CHARACTERS), st.characters()),
    max_size=64,
)
"""Short text mixing the characters above with anything Unicode has."""

ascii_digits = st.text(alphabet=string.digits, min_size=1, max_size=40)
huge_digits = st.integers(min_value=4301, max_value=6000).map(lambda n: "9" * n)
"""More digits than Python converts to an int by default (a ValueError, not a number)."""

numbers = st.one_of(ascii_digits, huge_digits, tricky_text, st.integers().map(str))
"""What a client may put where a number is expected."""


def outcome(call: Callable[..., Any], *args: Any) -> Any:
    """What `call` returns, or the exception it raises: the properties of a parser hold either way,
    and an exception of an unexpected type then fails the caller's isinstance check."""
    try:
        return call(*args)
    except Exception as error:
        return error
