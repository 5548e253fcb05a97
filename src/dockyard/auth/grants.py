"""Upload grants: how a push outlives its token.

When a token that may push opens (or continues) an upload session, the session's Location carries a
grant: an expiry and a MAC over (repository, upload id, token subject, expiry). A later PATCH or PUT of
that session whose token has expired since (but is otherwise valid: signed by a trusted key, right
issuer and audience, same subject, push on the repository) is still authorized until the grant expires.
Grants are stateless, so they hold across workers and restarts; the MAC key derives from the token
signing key, which every worker shares.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from cryptography.hazmat.primitives import serialization

from dockyard.auth.keys import PrivateKey
from dockyard.core.decimals import parse_decimal

QUERY_PARAMETER = "_grant"


class UploadGrants:
    def __init__(self, signing_key: PrivateKey, lifetime: int):
        der = signing_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._key = hashlib.sha256(b"dockyard upload grant\0" + der).digest()
        self._lifetime = lifetime

    def _mac(self, repository: str, upload_id: str, subject: str, expires: int) -> str:
        message = f"{repository}\0{upload_id}\0{subject}\0{expires}".encode()
        digest = hmac.digest(self._key, message, hashlib.sha256)
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, repository: str, upload_id: str, subject: str) -> str:
        expires = int(time.time()) + self._lifetime
        return f"{expires}.{self._mac(repository, upload_id, subject, expires)}"

    def valid(self, grant: str, repository: str, upload_id: str, subject: str) -> bool:
        expires_text, _, mac = grant.partition(".")
        expires = parse_decimal(expires_text)
        if expires is None or expires < time.time():
            return False
        expected = self._mac(repository, upload_id, subject, expires)
        return hmac.compare_digest(expected.encode(), mac.encode())
