"""A software WebAuthn authenticator for tests: ES256 (P-256) keys, "none" attestation and
real signatures, answering the JSON options Roost issues the way a browser would."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """One key pair living in the authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        # COSE_Key: kty EC2, alg ES256, crv P-256, x, y
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


@dataclass
class SoftAuthenticator:
    """Makes credentials and assertions; ``origin`` is what the "browser" puts in clientDataJSON."""

    origin: str
    counter_step: int = 1
    credentials: list[Credential] = field(default_factory=list)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.create`` for Roost's registration options."""
        rp = rp_id or options["rp"]["id"]
        cred = Credential(secrets.token_bytes(16), ec.generate_private_key(ec.SECP256R1()), rp, unb64url(options["user"]["id"]))
        self.credentials.append(cred)
        attested = cred.credential_id
        attested_data = b"\x00" * 16 + struct.pack(">H", len(attested)) + attested + cred.cose_public_key()
        auth_data = hashlib.sha256(rp.encode()).digest() + bytes([FLAG_UP | FLAG_UV | FLAG_AT]) + struct.pack(">I", 0) + attested_data
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(cred.credential_id),
            "rawId": b64url(cred.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self, options: dict[str, Any], cred: Credential | None = None, *, origin: str | None = None, sign_count: int | None = None
    ) -> dict[str, Any]:
        """``navigator.credentials.get``: with an allow list, the first allowed credential."""
        if cred is None:
            allowed = [unb64url(c["id"]) for c in options.get("allowCredentials") or []]
            cred = next(c for c in self.credentials if not allowed or c.credential_id in allowed)
        cred.sign_count = cred.sign_count + self.counter_step if sign_count is None else sign_count
        rp_hash = hashlib.sha256(options.get("rpId", cred.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([FLAG_UP | FLAG_UV]) + struct.pack(">I", cred.sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = cred.private_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(cred.credential_id),
            "rawId": b64url(cred.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(cred.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
