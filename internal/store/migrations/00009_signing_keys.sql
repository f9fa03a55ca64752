-- Asymmetric signatures (issue 15): one optional ed25519 signing key pair per workspace.
-- The private key is sealed like the signing secret: "v1:" + base64(nonce || AES-256-GCM(master
-- key, "whsk_…", additional data = purpose + workspace id)). The public key ("whpk_…") and its
-- kid (RFC 7638 thumbprint) are public and stored plain: the JWKS URL serves them. During a
-- rotation grace window the previous key keeps signing (and stays published) until
-- previous_expires_at; the next rotation clears it.

-- +goose Up
CREATE TABLE signing_keys (
    workspace_id        TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    ciphertext          TEXT NOT NULL,
    public_key          TEXT NOT NULL,
    kid                 TEXT NOT NULL,
    previous_ciphertext TEXT,
    previous_public_key TEXT,
    previous_kid        TEXT,
    previous_expires_at BIGINT,
    created_at          BIGINT NOT NULL,
    rotated_at          BIGINT
);

-- +goose Down
DROP TABLE signing_keys;
