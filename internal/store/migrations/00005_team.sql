-- Team management: invitations to join a workspace with a role (roles and members are in
-- 00001). The link's token is stored hashed (SHA-256), never in clear.

-- +goose Up
CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    role_id          TEXT NOT NULL REFERENCES roles (id),
    token_hash       TEXT NOT NULL,
    invited_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    accepted_user_id TEXT REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_workspace ON invitations (workspace_id, id);
CREATE INDEX invitations_role ON invitations (role_id);
-- At most one pending invitation per address and workspace; inviting again refreshes it.
CREATE UNIQUE INDEX invitations_pending_email ON invitations (workspace_id, email) WHERE status = 'pending';

-- +goose Down
DROP TABLE invitations;
