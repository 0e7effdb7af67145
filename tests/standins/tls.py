"""Throwaway certificates so the add-on can speak real TLS to the stand-ins.

Why this file exists: the add-on must be tested against Microsoft's *real* hostnames
(``login.microsoftonline.com``, ``api.security.microsoft.com``, ...) with certificate
verification left on, exactly as in production. The hostmap ``sitecustomize`` sends
those names to 127.0.0.1; this module makes a private CA and one server certificate
whose subjectAltNames list every Microsoft host the add-on may use, so hostname
verification passes only for documented names. The child process trusts the CA
through ``REQUESTS_CA_BUNDLE`` (or the add-on's own ``ca_bundle_path`` setting).

The certificates carry the extensions that strict verifiers insist on (Python 3.13
turns on ``VERIFY_X509_STRICT``: critical basicConstraints and keyUsage on the CA,
authorityKeyIdentifier on the leaf), so the same material works on Splunk's
Python 3.9 and 3.13 alike.

It also makes application certificates (key + self-signed cert + SHA-1 thumbprint)
for Entra ID's certificate credential.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Every host the add-on may legitimately contact (FACTS.md section 1).
LOGIN_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us")
API_HOSTS = (
    "api.security.microsoft.com",
    "us.api.security.microsoft.com",
    "eu.api.security.microsoft.com",
    "uk.api.security.microsoft.com",
    "au.api.security.microsoft.com",
    "swa.api.security.microsoft.com",
    "ina.api.security.microsoft.com",
    "api.securitycenter.microsoft.com",
    # older geo names that Microsoft still documents next to the new ones
    "api-us.securitycenter.microsoft.com",
    "api-eu.securitycenter.microsoft.com",
    "api-uk.securitycenter.microsoft.com",
    "api-au.securitycenter.microsoft.com",
    "api-gcc.securitycenter.microsoft.us",
    "api-gov.securitycenter.microsoft.us",
)
GRAPH_HOSTS = ("graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us")  # the user actions
MICROSOFT_HOSTS = LOGIN_HOSTS + API_HOSTS + GRAPH_HOSTS


@dataclass(frozen=True)
class TlsPaths:
    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class AppCertificate:
    """An Entra ID application certificate credential."""

    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str  # upper-case hex, as the Azure portal shows it
    sha256_thumbprint: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem


def make_tls_material(directory: str | Path, extra_hosts: tuple[str, ...] = ()) -> TlsPaths:
    """Write ``ca.pem``, ``server.pem``, ``server.key`` into *directory* and return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc)
    not_before, not_after = now - _dt.timedelta(days=1), now + _dt.timedelta(days=30)

    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MDE add-on test CA (throwaway)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = _key()
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in (*MICROSOFT_HOSTS, *extra_hosts, "localhost")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.security.microsoft.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    paths = TlsPaths(ca=out / "ca.pem", cert=out / "server.pem", key=out / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(_pem_key(key))
    paths.key.chmod(0o600)
    return paths


def make_app_certificate(common_name: str = "mde-addon-test-app") -> AppCertificate:
    """A self-signed certificate as one uploads to an Entra app registration."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return AppCertificate(
        private_key_pem=_pem_key(key).decode("ascii"),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 (x5t is SHA-1 by spec)
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )
