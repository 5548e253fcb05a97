"""Authorization headers, scopes, tokens, upload grants and UI session cookies: garbage is refused
with the parser's own answer (None, False, TokenError), never an exception a handler does not expect."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import example, given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ, FUZZ_COSTLY, numbers, outcome, tricky_text

from dockyard.auth.grants import UploadGrants
from dockyard.auth.keys import VerifyingKey, thumbprint
from dockyard.auth.policy import Action
from dockyard.auth.revocation import Binding
from dockyard.auth.service import is_empty_basic, parse_basic
from dockyard.auth.tokens import TokenError, TokenIssuer, TokenVerifier, parse_scope, repository_actions
from dockyard.http.auth import addressed_host, client_address
from dockyard.http.errors import HTTPError
from dockyard.http.messages import Request
from dockyard.ui.csrf import COOKIE as CSRF_COOKIE
from dockyard.ui.csrf import HEADER as CSRF_HEADER
from dockyard.ui.csrf import cookie_value, require_token
from dockyard.ui.session import Sessions

ISSUER, SERVICE = "dockyard", "registry.test"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
ISSUING = TokenIssuer(KEY, "ES256", ISSUER, SERVICE)
VERIFIER = TokenVerifier(
    {ISSUER: [VerifyingKey(KEY.public_key(), thumbprint(KEY.public_key()), ("ES256",))]}, ISSUER, SERVICE, 5
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=12,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _request(**headers: str) -> Request:
    return Request("GET", "/", "", headers, None, request_id="fuzz")


@FUZZ
@given(st.one_of(tricky_text, st.binary(max_size=48).map(lambda raw: base64.b64encode(raw).decode())))
@example("é")
@example("Og==")
@example("dXNlcjpwYXNz")
@example("\u0661\u0662==")
def test_basic_credentials_parse_or_are_refused(credentials: str) -> None:
    parsed = parse_basic(credentials)
    assert is_empty_basic(credentials) in (True, False)
    if parsed is not None:
        user, password = parsed
        assert user
        assert ":" not in user
        assert base64.b64decode(credentials.strip()).decode() == f"{user}:{password}"


@FUZZ
@given(st.text(max_size=20).filter(lambda user: user and ":" not in user), st.text(max_size=20))
def test_basic_credentials_round_trip(user: str, password: str) -> None:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert parse_basic(encoded) == (user, password)
    assert parse_basic(f"  {encoded} ") == (user, password)


@FUZZ
@given(
    st.one_of(
        tricky_text,
        st.builds(
            "{}:{}:{}".format,
            st.sampled_from(["repository", "repository(plugin)", "registry", ""]),
            tricky_text,
            st.lists(st.sampled_from(["pull", "push", "delete", "*", "", "x"]), max_size=4).map(",".join),
        ),
    )
)
@example("repository:host:5000/team/app:pull,push")
@example(":::")
def test_scopes_parse_or_are_malformed(text: str) -> None:
    scope = parse_scope(text)
    if scope is None:
        return
    assert scope.type
    assert scope.name
    assert all(scope.actions)
    assert parse_scope(str(scope)) == scope
    assert repository_actions(scope.actions) <= frozenset(Action)


def _sign(claims: dict[str, Any], headers: dict[str, Any] | None = None, key: Any = KEY) -> str:
    return jwt.encode(claims, key, "ES256", headers=headers or {"kid": thumbprint(KEY.public_key())})


def _garbage_token() -> st.SearchStrategy[str]:
    segment = st.one_of(
        tricky_text.map(lambda text: _b64(text.encode("utf-8", "surrogatepass"))),
        json_values.map(lambda value: _b64(json.dumps(value).encode())),
        tricky_text,
    )
    return st.one_of(
        tricky_text,
        st.lists(segment, min_size=1, max_size=5).map(".".join),
    )


@FUZZ
@given(_garbage_token())
@example("a.b.c")
@example("\ud800")
@example("é.é.é")
@example(_b64(b'{"alg":"none"}') + "." + _b64(b'{"iss":"dockyard"}') + ".")
@example(_b64(b'{"alg":"HS256","kid":[1]}') + "." + _b64(b'{"iss":"dockyard"}') + ".c2ln")
@example(_b64(b"[]") + "." + _b64(b"[]") + ".c2ln")
def test_garbage_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        VERIFIER.verify(token)
    with pytest.raises(TokenError):
        VERIFIER.verify_refresh(token, ISSUING.refresh_audience)


claims_of_a_trusted_issuer = st.fixed_dictionaries(
    {"iss": st.just(ISSUER), "aud": st.just(SERVICE)},
    optional={
        "sub": json_values,
        "exp": st.one_of(st.integers(min_value=-(2**40), max_value=2**40), json_values),
        "nbf": json_values,
        "iat": json_values,
        "access": json_values,
        "jti": json_values,
    },
)


@FUZZ_COSTLY
@given(claims_of_a_trusted_issuer, st.one_of(st.none(), json_values))
@example({"iss": ISSUER, "aud": SERVICE, "exp": 1, "iat": "yesterday"}, None)
@example({"iss": ISSUER, "aud": SERVICE, "exp": 1, "sub": 5}, None)
@example({"iss": ISSUER, "aud": SERVICE, "exp": 1, "jti": []}, None)
@example({"iss": ISSUER, "aud": SERVICE, "exp": 2**40, "access": [{"type": "repository", "actions": "pull"}]}, None)
@example({"iss": ISSUER, "aud": SERVICE, "exp": 2**40, "access": {"a": 1}}, None)
def test_signed_tokens_with_odd_claims_verify_or_are_refused(claims: dict[str, Any], kid: Any) -> None:
    """What a trusted issuer signs is still untrusted in shape (an external token service may be odd)."""
    headers = {"kid": kid} if kid is not None else {"kid": thumbprint(KEY.public_key())}
    try:
        token = _sign(claims, headers)
    except (TypeError, ValueError, jwt.PyJWTError):
        return  # not even encodable as a JWT
    try:
        principal = VERIFIER.verify(token)
    except TokenError:
        return
    assert isinstance(principal.name, str)
    assert principal.expires + 5 > time.time()
    for name, actions in (principal.access or {}).items():
        assert isinstance(name, str)
        assert actions <= frozenset(Action)


@FUZZ_COSTLY
@given(st.integers(min_value=60, max_value=10**9), st.booleans())
def test_expired_tokens_presented_as_the_other_kind_are_refused(age: int, as_refresh: bool) -> None:
    now = time.time() - age
    if as_refresh:
        access_token = ISSUING.access_token("alice", {}, False, 30, now)
        with pytest.raises(TokenError):
            VERIFIER.verify_refresh(access_token, ISSUING.refresh_audience)
    else:
        refresh_token = ISSUING.refresh_token("alice", 30, now, BINDING)
        with pytest.raises(TokenError):
            VERIFIER.verify(refresh_token)


@FUZZ_COSTLY
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_tokens_of_another_key_are_refused(claims: dict[str, Any]) -> None:
    token = _sign({**claims, "iss": ISSUER, "aud": SERVICE, "exp": int(time.time()) + 60}, key=OTHER_KEY)
    with pytest.raises(TokenError):
        VERIFIER.verify(token)


GRANTS = UploadGrants(KEY, 3600)


@FUZZ
@given(st.one_of(tricky_text, st.builds("{}.{}".format, numbers, tricky_text)))
@example("²." + "A" * 43)
@example("9" * 5000 + ".mac")
def test_forged_upload_grants_are_invalid(grant: str) -> None:
    assert GRANTS.valid(grant, "team/app", "upload-id", "alice") is False


@FUZZ
@given(st.text(max_size=30), st.text(max_size=40), st.text(max_size=20))
def test_issued_upload_grants_hold_for_their_session_only(repository: str, upload_id: str, subject: str) -> None:
    grant = GRANTS.issue(repository, upload_id, subject)
    assert GRANTS.valid(grant, repository, upload_id, subject)
    assert not GRANTS.valid(grant, repository + "x", upload_id, subject)
    assert not GRANTS.valid(grant, repository, upload_id, subject + "x")


SESSIONS = Sessions(b"k" * 32, 3600)
BINDING = Binding(3, "0123456789abcdef")


@FUZZ
@given(
    st.one_of(
        tricky_text,
        st.builds("{}.{}".format, tricky_text, tricky_text),
        json_values.map(lambda value: _b64(json.dumps(value).encode()) + "." + "A" * 43),
    )
)
@example("é.é")
@example("e30." + "é" * 43)
def test_forged_session_cookies_name_nobody(cookie: str) -> None:
    assert SESSIONS.read(cookie) is None


@FUZZ
@given(st.text(max_size=40), st.none() | st.frozensets(st.text(max_size=10), max_size=3))
def test_session_cookies_round_trip(user: str, groups: frozenset[str] | None) -> None:
    session = SESSIONS.read(SESSIONS.issue(user, BINDING, groups))
    assert session is not None
    assert (session.user, session.binding, session.groups) == (user, BINDING, groups)
    assert Sessions(b"o" * 32, 3600).read(SESSIONS.issue(user, BINDING, groups)) is None


@FUZZ
@given(st.one_of(tricky_text, st.lists(st.builds("{}={}".format, tricky_text, tricky_text), max_size=4).map("; ".join)))
@example('dockyard_session="\\')
@example("dockyard_session=a; dockyard_session=b")
def test_cookie_headers_parse_or_give_nothing(header: str) -> None:
    value = cookie_value(_request(cookie=header), "dockyard_session")
    assert value is None or isinstance(value, str)


@FUZZ
@given(tricky_text, tricky_text)
@example("é", "é")
def test_csrf_tokens_match_exactly_or_are_refused(cookie: str, sent: str) -> None:
    req = _request(cookie=f"{CSRF_COOKIE}={cookie}", **{CSRF_HEADER: sent})
    refused = outcome(require_token, req)
    if refused is None:
        assert cookie_value(req, CSRF_COOKIE) == sent
    else:
        assert isinstance(refused, HTTPError)
        assert refused.status == 403


@FUZZ
@given(tricky_text)
def test_peer_and_host_parsing_never_fails(text: str) -> None:
    assert isinstance(client_address(text), str)
    host = addressed_host(_request(host=text), "fallback")
    assert host in (text, "fallback")
    # The Host is echoed into URLs: whatever is taken never carries a path, a user or a space.
    assert host == "fallback" or not set(host) & set("/@ \\?#\r\n")
