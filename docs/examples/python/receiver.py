"""Verifying relaydesk webhooks in Python 3, standard library only.

    RELAYDESK_WEBHOOK_SECRET=whsec_... python3 receiver.py
"""
import base64
import hashlib
import hmac
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE = 5 * 60  # seconds, either way


class InvalidSignature(Exception):
    pass


def verify_standard(secret, raw_body, headers, now=None):
    """Standard Webhooks: check webhook-id, webhook-timestamp and webhook-signature.

    secret is "whsec_..." as shown in Developer Tools; raw_body the bytes exactly as
    received; headers any case-insensitive mapping (or a dict with lower-case keys).
    Raises InvalidSignature on failure.
    """
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
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + raw_body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split():  # one "v1,<sig>" per active secret
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return
    raise InvalidSignature("no matching signature")


def verify_messagedesk(secret, raw_body, signature):
    """X-MessageDesk-Signature: HMAC-SHA256 of the raw body keyed with the secret string
    itself (including "whsec_"). No timestamp, so no protection against replays."""
    expected = base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(signature or "", expected)


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("RELAYDESK_WEBHOOK_SECRET", "")
    seen = set()  # use your database in production

    def do_POST(self):
        raw_body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            verify_standard(self.secret, raw_body, self.headers)
        except InvalidSignature as err:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(str(err).encode())
            return
        msg_id = self.headers["webhook-id"]
        if msg_id not in self.seen:  # deliveries can repeat: deduplicate on webhook-id
            self.seen.add(msg_id)
            print(self.headers.get("X-MessageDesk-Event"), msg_id, raw_body.decode())
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "9000"))), Receiver).serve_forever()
