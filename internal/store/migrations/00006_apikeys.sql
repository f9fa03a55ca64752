-- API keys and Zapier REST hooks (issue 8).
-- An API key belongs to one member (workspace_id, user_id) and acts with that member's
-- current role. The key itself is never stored: prefix is its first 12 characters (for
-- lookup and display), hash the SHA-256 of the whole key.
-- A Zapier hook is a subscription of one target URL to one event name, owned by a member;
-- its id ("hook_" + ULID) is used as the target id of its deliveries.

-- +goose Up
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, id);

CREATE TABLE zapier_hooks (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id   TEXT,
    target_url   TEXT NOT NULL,
    event        TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX zapier_hooks_workspace_event ON zapier_hooks (workspace_id, event);

-- +goose Down
DROP TABLE zapier_hooks;
DROP TABLE api_keys;
