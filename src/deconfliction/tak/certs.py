"""A quick-start certificate authority for the TLS listener: a CA, a server certificate
and one client certificate per TAK device, each client mapped to a party."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Issued:
    key: Key
    cert: x509.Certificate


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def make_ca(common_name: str = "Deconfliction TAK CA", days: int = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(
    ca: Issued,
    common_name: str,
    *,
    organization: str | None = None,
    server_hosts: list[str] | None = None,
    days: int = 825,
) -> Issued:
    """A certificate signed by `ca`: a server's when `server_hosts` is given, else a client's."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if server_hosts is not None:
        names: list[x509.GeneralName] = []
        for host in server_hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def write_pem(issued: Issued, cert_path: Path, key_path: Path) -> None:
    cert_path.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def write_p12(issued: Issued | None, ca: Issued, path: Path, password: str, name: str) -> None:
    """A PKCS#12 file for a TAK device: its client certificate, or the CA as a truststore."""
    encryption = serialization.BestAvailableEncryption(password.encode())
    if issued is None:
        data = pkcs12.serialize_key_and_certificates(
            name.encode(), None, None, [ca.cert], encryption
        )
    else:
        data = pkcs12.serialize_key_and_certificates(
            name.encode(), issued.key, issued.cert, [ca.cert], encryption
        )
    path.touch(mode=0o600)
    path.write_bytes(data)


@dataclass(frozen=True, slots=True)
class QuickStart:
    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path, Path]]
    """Client name -> (certificate, key, PKCS#12)."""
    config: Path


def quick_start(
    directory: Path,
    clients: list[tuple[str, str]],
    server_hosts: list[str],
    password: str = "atakatak",
) -> QuickStart:
    """Write a CA, a server certificate, client certificates and a `cot.yaml` that maps
    each client's certificate to its party."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca()
    write_pem(ca, directory / "ca.pem", directory / "ca.key")
    write_p12(None, ca, directory / "truststore.p12", password, "deconfliction-ca")
    server = issue(ca, server_hosts[0], server_hosts=server_hosts)
    write_pem(server, directory / "server.pem", directory / "server.key")
    written: dict[str, tuple[Path, Path, Path]] = {}
    mapping: dict[str, str] = {}
    for name, party in clients:
        client = issue(ca, name, organization=party)
        cert, key, p12 = (directory / f"{name}{ext}" for ext in (".pem", ".key", ".p12"))
        write_pem(client, cert, key)
        write_p12(client, ca, p12, password, name)
        written[name] = (cert, key, p12)
        mapping[client.cert.subject.rfc4514_string()] = party
    config = directory / "cot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "certfile": str(directory / "server.pem"),
                "keyfile": str(directory / "server.key"),
                "cafile": str(directory / "ca.pem"),
                "clients": mapping,
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return QuickStart(
        directory=directory,
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        clients=written,
        config=config,
    )
