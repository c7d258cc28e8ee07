"""Desk key pairs: Ed25519, public keys exchanged as base64 of the 32 raw bytes."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "DeskKey",
    "InvalidSignature",
    "KeyFormatError",
    "load_public_key",
    "public_key_text",
    "read_public_key",
]


class KeyFormatError(ValueError):
    """A key that cannot be read; the message says which and why."""


class DeskKey:
    """A desk's signing key."""

    __slots__ = ("_private", "public", "public_text")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.public_text = public_key_text(self.public)

    @classmethod
    def generate(cls) -> DeskKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeskKey:
        """The key of a 32-byte seed: how the service stores a desk's key."""
        if len(seed) != 32:
            raise KeyFormatError(f"an Ed25519 seed is 32 bytes, not {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, data: bytes) -> DeskKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("the PEM private key is not an Ed25519 key")
        return cls(key)

    def seed(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, payload: bytes) -> bytes:
        return self._private.sign(payload)


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes, or from a PEM text."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError("the PEM public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("not base64 (expected the 32 raw bytes of an Ed25519 key)") from exc
    if len(raw) != 32:
        raise KeyFormatError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def read_public_key(spec: str) -> Ed25519PublicKey:
    """A key given inline, or as `@path` to a file holding one."""
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            return load_public_key(path.read_text(encoding="ascii"))
        except OSError as exc:
            raise KeyFormatError(f"cannot read {path}: {exc.strerror}") from exc
    return load_public_key(spec)
