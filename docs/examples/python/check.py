"""Test harness, not part of the example: reads cases as JSON on stdin, runs the functions
of receiver.py on each, prints the results as JSON. Used by webhook/examples_test.go."""
import base64
import json
import sys

from receiver import InvalidSignature, verify_messagedesk, verify_standard

results = []
for c in json.load(sys.stdin):
    body = base64.b64decode(c["bodyBase64"])
    r = {"name": c["name"], "standard": "ok"}
    try:
        verify_standard(c["secret"], body, c["headers"])
    except InvalidSignature as err:
        r["standard"] = str(err)
    r["messageDesk"] = verify_messagedesk(c["secret"], body, c["headers"].get("x-messagedesk-signature"))
    if c.get("publicKeys"):
        from receiver_v1a import InvalidSignature as InvalidV1a, verify_asymmetric

        for field, keys in (("asymmetric", c["publicKeys"]), ("asymmetricJwk", c["jwks"]["keys"])):
            r[field] = "ok"
            try:
                verify_asymmetric(keys, body, c["headers"])
            except InvalidV1a as err:
                r[field] = str(err)
    results.append(r)
json.dump(results, sys.stdout)
