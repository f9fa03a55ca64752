-- Developer Tools: webhook endpoints and the workspace signing secret (issue 4).

-- +goose Up
CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX endpoints_workspace ON endpoints (workspace_id, id);

-- One signing secret per workspace. The secret is never stored in plaintext: *_ciphertext
-- is "v1:" + base64(nonce || AES-256-GCM(master key, secret, additional data = workspace id)).
-- The previous secret signs (alongside the current one) only until previous_expires_at;
-- the columns are cleared by the next rotation.
CREATE TABLE signing_secrets (
    workspace_id         TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    ciphertext           TEXT NOT NULL,
    fingerprint          TEXT NOT NULL,
    previous_ciphertext  TEXT,
    previous_fingerprint TEXT,
    previous_expires_at  BIGINT,
    created_at           BIGINT NOT NULL,
    rotated_at           BIGINT
);

-- +goose Down
DROP TABLE signing_secrets;
DROP TABLE endpoints;
