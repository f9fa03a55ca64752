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
    results.append(r)
json.dump(results, sys.stdout)
