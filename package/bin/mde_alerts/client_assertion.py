"""The signed JWT that proves a certificate credential to Microsoft Entra ID.

MSAL signs certificate assertions with `cryptography`, a compiled library that must
match each Splunk platform's Python, CPU and glibc (see docs in README, Portability).
An RS256 assertion needs nothing but an RSA signature, which the pure-Python `rsa`
package makes; MSAL takes the result as a `client_assertion` callable and does the
rest of the token request as usual. The package thereby ships no compiled code at all.

Claims follow Microsoft's "certificate credentials" contract: aud = the token
endpoint, iss = sub = client ID, jti unique, nbf/iat now, exp 10 minutes later, and the
certificate's SHA-1 thumbprint as `x5t` in the header.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import rsa
from pyasn1.codec.der import decoder
from pyasn1.type import namedtype, univ

LIFETIME_SECONDS = 600
_PEM = re.compile(r"-----BEGIN ((?:RSA )?PRIVATE KEY)-----(.+?)-----END \1-----", re.S)


class _AlgorithmIdentifier(univ.Sequence):  # type: ignore[misc]
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1's name)
        namedtype.NamedType("algorithm", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("parameters", univ.Any()),
    )


class _PrivateKeyInfo(univ.Sequence):  # type: ignore[misc]
    """PKCS#8 (RFC 5208): the wrapper around a PKCS#1 RSA key in `BEGIN PRIVATE KEY`."""

    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1's name)
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("privateKeyAlgorithm", _AlgorithmIdentifier()),
        namedtype.NamedType("privateKey", univ.OctetString()),
    )


RSA_ENCRYPTION = univ.ObjectIdentifier("1.2.840.113549.1.1.1")


def load_private_key(pem: str) -> rsa.PrivateKey:
    """An RSA key from PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`)."""
    if "ENCRYPTED PRIVATE KEY" in pem:
        raise ValueError("the private key is encrypted: export it without a password (PEM, unencrypted)")
    match = _PEM.search(pem)
    if not match:
        raise ValueError("no PEM private key found: paste the block from -----BEGIN PRIVATE KEY----- to its END line")
    der = base64.b64decode("".join(match.group(2).split()))
    if match.group(1) == "PRIVATE KEY":
        info, _ = decoder.decode(der, asn1Spec=_PrivateKeyInfo())
        if info["privateKeyAlgorithm"]["algorithm"] != RSA_ENCRYPTION:
            raise ValueError("the certificate's key is not RSA: Entra ID certificate credentials use RSA keys")
        der = bytes(info["privateKey"])
    key: rsa.PrivateKey = rsa.PrivateKey.load_pkcs1(der, format="DER")
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CertificateAssertion:
    def __init__(self, client_id: str, private_key_pem: str, thumbprint: str) -> None:
        self._client_id = client_id
        self._key = load_private_key(private_key_pem)
        digits = re.sub(r"[^0-9a-fA-F]", "", thumbprint)
        if len(digits) != 40:
            raise ValueError("the thumbprint must be the certificate's SHA-1 thumbprint: 40 hexadecimal characters")
        self._header = _b64url(
            json.dumps({"alg": "RS256", "typ": "JWT", "x5t": _b64url(bytes.fromhex(digits))}).encode()
        )

    def __repr__(self) -> str:  # never the key
        return f"CertificateAssertion(client_id={self._client_id!r})"

    def sign(self, audience: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "aud": audience,
            "iss": self._client_id,
            "sub": self._client_id,
            "jti": str(uuid.uuid4()),
            "nbf": issued,
            "iat": issued,
            "exp": issued + LIFETIME_SECONDS,
        }
        signing_input = f"{self._header}.{_b64url(json.dumps(claims).encode())}"
        signature = rsa.sign(signing_input.encode("ascii"), self._key, "SHA-256")
        return f"{signing_input}.{_b64url(signature)}"
