// Test harness, not part of the example: reads cases as JSON on stdin, runs the functions
// of receiver.js on each, and prints the results as JSON. Used by webhook/examples_test.go.
const { verifyStandard, verifyMessageDesk, verifyAsymmetric } = require("./receiver.js");

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((c) => {
    const body = Buffer.from(c.bodyBase64, "base64");
    const r = { name: c.name, standard: "ok", messageDesk: false };
    try {
      verifyStandard(c.secret, body, c.headers);
    } catch (err) {
      r.standard = String(err.message || err);
    }
    r.messageDesk = verifyMessageDesk(c.secret, body, c.headers["x-messagedesk-signature"]);
    if (c.publicKeys) {
      r.asymmetric = "ok";
      try {
        verifyAsymmetric(c.publicKeys, body, c.headers);
      } catch (err) {
        r.asymmetric = String(err.message || err);
      }
      // The same with the keys as the JWKS URL serves them.
      r.asymmetricJwk = "ok";
      try {
        verifyAsymmetric(c.jwks.keys, body, c.headers);
      } catch (err) {
        r.asymmetricJwk = String(err.message || err);
      }
    }
    return r;
  });
  process.stdout.write(JSON.stringify(results));
});
