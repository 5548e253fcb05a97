"""Token signing keys: dockyard's own (generated on first start) and trusted issuers' public keys."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt import PyJWKSet
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from dockyard import durable

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# Asymmetric algorithms only, chosen by the key's type: never `none`, never HS* (with a public key
# an HMAC "signature" could be forged by anyone who has the key).
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHMS = {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}


class KeyFileError(ValueError):
    """A key file that cannot be used."""


def algorithms_for(key: PublicKey) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _EC_ALGORITHMS.get(key.curve.name, ())
    return ("EdDSA",)


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    key: PublicKey
    key_id: str | None
    algorithms: tuple[str, ...]


def _jwk_of(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
        return {name: jwk[name] for name in ("e", "kty", "n")}
    if isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
        return {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    raise KeyFileError("only RSA and EC keys sign dockyard's tokens")


def thumbprint(key: PublicKey) -> str:
    """The key's RFC 7638 thumbprint: its `kid`."""
    canonical = json.dumps(_jwk_of(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _generate(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create(path: Path, algorithm: str) -> None:
    """Write a new key readable by its owner only; when several workers race, the first link wins
    and the others read its key."""
    durable.make_dirs(path.parent, mode=0o700)
    durable.create_file(path, _pem(_generate(algorithm)), 0o600)


def signing_key(path: Path, algorithm: str) -> tuple[PrivateKey, str]:
    """dockyard's signing key and the algorithm it signs with, generated when the file is absent."""
    if not path.exists():
        _create(path, algorithm)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({error})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return key, "ES256"
    raise KeyFileError(f"{path}: the signing key must be RSA or EC P-256")


def public_keys(pem_file: Path | None, jwks_file: Path | None) -> list[VerifyingKey]:
    """A trusted issuer's keys, from a PEM public key (or certificate) or a JWKS document."""
    if pem_file is not None:
        data = pem_file.read_bytes()
        try:
            if b"CERTIFICATE" in data:
                loaded: Any = x509.load_pem_x509_certificate(data).public_key()
            else:
                loaded = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise KeyFileError(f"{pem_file}: not a PEM public key or certificate ({error})") from None
        if not isinstance(loaded, PublicKey):
            raise KeyFileError(f"{pem_file}: unsupported key type")
        return [VerifyingKey(loaded, None, algorithms_for(loaded))]
    assert jwks_file is not None
    try:
        keys = PyJWKSet.from_json(jwks_file.read_text()).keys
    except Exception as error:
        raise KeyFileError(f"{jwks_file}: not a usable JWKS document ({error})") from None
    found = []
    for jwk in keys:
        if not isinstance(jwk.key, PublicKey):
            continue  # symmetric ("oct") keys are never trusted
        allowed = algorithms_for(jwk.key)
        if jwk.algorithm_name in allowed:
            allowed = (jwk.algorithm_name,)
        found.append(VerifyingKey(jwk.key, jwk.key_id, allowed))
    if not found:
        raise KeyFileError(f"{jwks_file}: no RSA, EC or Ed25519 public key")
    return found
