-- Relays (issue 6): a trigger, conditions and actions per workspace.
-- definition is the relay's JSON (relay.Definition); name, description and trigger are
-- copied out of it for listing. New relays start paused (enabled = FALSE).

-- +goose Up
CREATE TABLE relays (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    trigger      TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX relays_workspace ON relays (workspace_id, id);

-- One row per workspace whose relays ever changed: version goes up in the same transaction
-- as every change, so each process's cache of compiled relays knows when it is stale
-- (one primary-key read per publish, no cross-process messaging).
CREATE TABLE relay_versions (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE relay_versions;
DROP TABLE relays;
