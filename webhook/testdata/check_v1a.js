// Independent check of v1a_vectors.json with Node.js crypto only (no relaydesk code):
// derives each public key and kid from the RFC 8032 seed, re-signs each message and
// compares, verifies each v1a entry, and rejects a tampered message.
//   node check_v1a.js v1a_vectors.json
const crypto = require("node:crypto");
const fs = require("node:fs");
const assert = require("node:assert/strict");

const f = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const b64url = (b) => Buffer.from(b).toString("base64url");
const keys = {};
for (const k of f.keys) {
  const seed = Buffer.from(k.seedHex, "hex");
  const pub = Buffer.from(k.publicKeyHex, "hex");
  const priv = crypto.createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: b64url(seed), x: b64url(pub) }, format: "jwk" });
  const derived = Buffer.from(crypto.createPublicKey(priv).export({ format: "jwk" }).x, "base64url");
  assert.equal(derived.toString("hex"), k.publicKeyHex, `${k.name}: public key derived from the seed`);
  assert.equal(k.publicKey, "whpk_" + pub.toString("base64"), `${k.name}: whpk_ encoding`);
  assert.equal(k.signingKey, "whsk_" + Buffer.concat([seed, pub]).toString("base64"), `${k.name}: whsk_ encoding`);
  const thumb = crypto.createHash("sha256").update(`{"crv":"Ed25519","kty":"OKP","x":"${b64url(pub)}"}`).digest("base64url");
  assert.equal(k.kid, thumb, `${k.name}: kid is the RFC 7638 thumbprint`);
  assert.deepEqual(k.jwk, { kty: "OKP", crv: "Ed25519", x: b64url(pub), kid: thumb, use: "sig", alg: "EdDSA" }, `${k.name}: JWK`);
  keys[k.name] = { priv, pub: crypto.createPublicKey({ key: k.jwk, format: "jwk" }), kid: thumb };
}
let n = 0;
for (const v of f.vectors) {
  const msg = Buffer.from(`${v.id}.${v.timestamp}.${v.body}`, "utf8");
  assert.equal(v.signed, msg.toString("utf8"), `${v.name}: signed message`);
  const entries = v.headers["webhook-signature"].split(" ");
  const v1a = entries.filter((e) => e.startsWith("v1a,")).map((e) => e.slice(4));
  assert.equal(v1a.length, v.keys.length, `${v.name}: one v1a entry per key`);
  assert.equal(entries.filter((e) => e.startsWith("v1,")).length, (v.secrets || []).length, `${v.name}: one v1 entry per secret`);
  assert.equal(v.headers["X-MessageDesk-Key-Id"], v.keys.map((name) => keys[name].kid).join(" "), `${v.name}: key ids`);
  v.keys.forEach((name, i) => {
    const k = keys[name];
    assert.equal(crypto.sign(null, msg, k.priv).toString("base64"), v1a[i], `${v.name}: re-signed with ${name}`);
    assert.ok(crypto.verify(null, msg, k.pub, Buffer.from(v1a[i], "base64")), `${v.name}: verifies with ${name}`);
    const bad = Buffer.concat([msg, Buffer.from(" ")]);
    assert.ok(!crypto.verify(null, bad, k.pub, Buffer.from(v1a[i], "base64")), `${v.name}: tampered message rejected`);
  });
  n++;
}
console.log(`ok ${n} vectors`);
