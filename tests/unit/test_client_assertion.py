"""Certificate assertions: what Entra ID verifies, built without compiled libraries."""

from __future__ import annotations

import base64
import json

import pytest
import rsa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mde_alerts.client_assertion import CertificateAssertion, load_private_key
from tests.standins.tls import make_app_certificate


def decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_assertion_claims_header_and_signature() -> None:
    certificate = make_app_certificate()  # PKCS#8 PEM, as Azure tooling exports it
    assertion = CertificateAssertion("client-1", certificate.private_key_pem, certificate.sha1_thumbprint)
    token = assertion.sign("https://login.microsoftonline.com/t/oauth2/v2.0/token", now=1_700_000_000)
    head, body, signature = token.split(".")
    header, claims = json.loads(decode(head)), json.loads(decode(body))
    assert header == {
        "alg": "RS256",
        "typ": "JWT",
        "x5t": base64.urlsafe_b64encode(bytes.fromhex(certificate.sha1_thumbprint.replace(":", "")))
        .rstrip(b"=")
        .decode(),
    }
    assert claims["aud"] == "https://login.microsoftonline.com/t/oauth2/v2.0/token"
    assert claims["iss"] == claims["sub"] == "client-1"
    assert claims["exp"] - claims["nbf"] == 600 and claims["jti"]
    key = load_private_key(certificate.private_key_pem)
    rsa.verify(f"{head}.{body}".encode(), decode(signature), rsa.PublicKey(key.n, key.e))
    assert certificate.private_key_pem not in repr(assertion)


def test_pkcs1_keys_load_too() -> None:
    _, private = rsa.newkeys(512)
    pem = private.save_pkcs1().decode()
    assert load_private_key(pem) == private


@pytest.mark.parametrize(
    "pem, fix",
    [
        ("not a key", "no PEM private key found"),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "export it without a password",
        ),
    ],
)
def test_unusable_keys_name_the_fix(pem: str, fix: str) -> None:
    with pytest.raises(ValueError, match=fix):
        load_private_key(pem)


def test_an_ec_key_is_refused_with_the_reason() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(ValueError, match="not RSA"):
        load_private_key(pem)


def test_a_bad_thumbprint_is_refused() -> None:
    certificate = make_app_certificate()
    with pytest.raises(ValueError, match="40 hexadecimal"):
        CertificateAssertion("c", certificate.private_key_pem, "abc")
