"""Verifying relaydesk's v1a (ed25519) signatures in Python 3 with the public key only.

    pip install cryptography
"""
import base64
import json
import time
import urllib.request

from cryptography.exceptions import InvalidSignature as BadEd25519Signature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE = 5 * 60  # seconds, either way


class InvalidSignature(Exception):
    pass


def public_key(key):
    """A "whpk_..." string from Developer Tools, or a JWK of the workspace's JWKS URL."""
    if isinstance(key, str):
        raw = base64.b64decode(key.removeprefix("whpk_"))
    else:
        raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def fetch_keys(jwks_url):
    """The public keys published at the JWKS URL (cache them; fetch again on an unknown kid)."""
    with urllib.request.urlopen(jwks_url, timeout=10) as resp:
        return [k for k in json.load(resp)["keys"] if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"]


def verify_asymmetric(public_keys, raw_body, headers, now=None):
    """Standard Webhooks v1a: check webhook-id, webhook-timestamp and the v1a entries of
    webhook-signature with the public keys. Raises InvalidSignature on failure."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    if not timestamp.isdigit():
        raise InvalidSignature("malformed webhook-timestamp")
    now = int(time.time()) if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE:
        raise InvalidSignature("webhook-timestamp outside the tolerance")
    keys = [public_key(k) for k in public_keys]
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + raw_body
    for entry in signatures.split():  # "v1,..." entries are HMAC: skip them
        version, _, sig = entry.partition(",")
        if version != "v1a":
            continue
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            continue
        for key in keys:
            try:
                key.verify(raw, signed)
                return
            except BadEd25519Signature:
                pass
    raise InvalidSignature("no matching v1a signature")
