// Verifying relaydesk webhooks in Node.js (18 or later).
//   npm install standardwebhooks
//   RELAYDESK_WEBHOOK_SECRET=whsec_... node receiver.js
const crypto = require("node:crypto");
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

// Standard Webhooks: checks webhook-id, webhook-timestamp (5 minutes either way) and
// webhook-signature. Throws on failure; returns the parsed event.
// rawBody must be the bytes exactly as received (a Buffer or string), not re-serialised JSON.
function verifyStandard(secret, rawBody, headers) {
  const wh = new Webhook(secret); // "whsec_..." exactly as shown in Developer Tools
  return wh.verify(rawBody, {
    "webhook-id": headers["webhook-id"],
    "webhook-timestamp": headers["webhook-timestamp"],
    "webhook-signature": headers["webhook-signature"],
  });
}

// X-MessageDesk-Signature: base64 HMAC-SHA256 of the raw body, keyed with the secret string
// itself (including "whsec_"). It has no timestamp, so it does not protect against replays.
function verifyMessageDesk(secret, rawBody, signature) {
  const expected = crypto.createHmac("sha256", secret).update(rawBody).digest("base64");
  const a = Buffer.from(String(signature || ""));
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

// Standard Webhooks v1a (ed25519), with node:crypto only: verifies with public keys, which
// cannot sign. publicKeys are "whpk_..." strings (Developer Tools) or the JWKs of the JWKS URL:
//   const { keys } = await (await fetch(process.env.RELAYDESK_JWKS_URL)).json();
// Throws on failure; returns the parsed event.
function verifyAsymmetric(publicKeys, rawBody, headers, now = Math.floor(Date.now() / 1000)) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing webhook-id, webhook-timestamp or webhook-signature");
  if (!/^[0-9]+$/.test(timestamp)) throw new Error("malformed webhook-timestamp");
  if (Math.abs(now - Number(timestamp)) > 5 * 60) throw new Error("webhook-timestamp outside the tolerance");
  const keys = publicKeys.map((k) =>
    typeof k === "string"
      ? crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(k.replace(/^whpk_/, ""), "base64").toString("base64url") }, format: "jwk" })
      : crypto.createPublicKey({ key: { kty: k.kty, crv: k.crv, x: k.x }, format: "jwk" }),
  );
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(rawBody)]);
  for (const entry of signatures.split(" ")) { // "v1,..." entries are HMAC: skip them
    const [version, sig] = entry.split(",");
    const raw = Buffer.from(sig || "", "base64");
    if (version === "v1a" && raw.length === 64 && keys.some((key) => crypto.verify(null, signed, key, raw))) {
      return JSON.parse(Buffer.from(rawBody).toString("utf8"));
    }
  }
  throw new Error("no matching v1a signature");
}

// A minimal receiver: verify, deduplicate on webhook-id, answer quickly.
const seen = new Set(); // use your database in production
function handler(secret) {
  return (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks);
      let event;
      try {
        event = verifyStandard(secret, rawBody, req.headers);
      } catch (err) {
        res.writeHead(401).end(`invalid signature: ${err.message}`);
        return;
      }
      const id = req.headers["webhook-id"];
      if (!seen.has(id)) {
        seen.add(id);
        console.log(`${event.name} ${id}`, event.data);
      }
      res.writeHead(204).end();
    });
  };
}

if (require.main === module) {
  const port = Number(process.env.PORT || 9000);
  http.createServer(handler(process.env.RELAYDESK_WEBHOOK_SECRET)).listen(port, "127.0.0.1");
}

module.exports = { verifyStandard, verifyMessageDesk, verifyAsymmetric, handler };
