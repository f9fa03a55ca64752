"""Independent check of v1a_vectors.json with Python cryptography only (no relaydesk code):
derives each public key and kid from the RFC 8032 seed, re-signs each message and compares,
verifies each v1a entry, and rejects a tampered message.

    python3 check_v1a.py v1a_vectors.json
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


f = json.load(open(sys.argv[1], encoding="utf-8"))
keys = {}
for k in f["keys"]:
    seed, pub = bytes.fromhex(k["seedHex"]), bytes.fromhex(k["publicKeyHex"])
    priv = Ed25519PrivateKey.from_private_bytes(seed)
    derived = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    check(derived == pub, k["name"] + ": public key derived from the seed")
    check(k["publicKey"] == "whpk_" + base64.b64encode(pub).decode(), k["name"] + ": whpk_ encoding")
    check(k["signingKey"] == "whsk_" + base64.b64encode(seed + pub).decode(), k["name"] + ": whsk_ encoding")
    thumb = b64url(hashlib.sha256(('{"crv":"Ed25519","kty":"OKP","x":"%s"}' % b64url(pub)).encode()).digest())
    check(k["kid"] == thumb, k["name"] + ": kid is the RFC 7638 thumbprint")
    jwk = k["jwk"]
    check(jwk == {"kty": "OKP", "crv": "Ed25519", "x": b64url(pub), "kid": thumb, "use": "sig", "alg": "EdDSA"}, k["name"] + ": JWK")
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    keys[k["name"]] = (priv, Ed25519PublicKey.from_public_bytes(x), thumb)

n = 0
for v in f["vectors"]:
    msg = ("%s.%d.%s" % (v["id"], v["timestamp"], v["body"])).encode()
    check(v["signed"].encode() == msg, v["name"] + ": signed message")
    entries = v["headers"]["webhook-signature"].split(" ")
    v1a = [e[4:] for e in entries if e.startswith("v1a,")]
    check(len(v1a) == len(v["keys"]), v["name"] + ": one v1a entry per key")
    check(len([e for e in entries if e.startswith("v1,")]) == len(v.get("secrets") or []), v["name"] + ": one v1 entry per secret")
    check(v["headers"]["X-MessageDesk-Key-Id"] == " ".join(keys[name][2] for name in v["keys"]), v["name"] + ": key ids")
    for name, sig in zip(v["keys"], v1a):
        priv, pub, _ = keys[name]
        check(base64.b64encode(priv.sign(msg)).decode() == sig, v["name"] + ": re-signed with " + name)
        pub.verify(base64.b64decode(sig), msg)  # raises InvalidSignature
        try:
            pub.verify(base64.b64decode(sig), msg + b" ")
            check(False, v["name"] + ": tampered message accepted")
        except InvalidSignature:
            pass
    n += 1
print("ok %d vectors" % n)
