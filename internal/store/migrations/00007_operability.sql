-- Operability (issue 11): endpoint health transitions, in-app notifications, and the
-- indexes the retention job deletes by.

-- +goose Up
-- failing_since: when the endpoint's first failed attempt after its last success was made;
-- NULL while healthy. Written only on a transition (failing ↔ recovered), so the hot path
-- reads nothing and writes a row only when the state changes.
ALTER TABLE endpoints ADD COLUMN failing_since BIGINT;
-- disabled_notified_at: the updated_at of the disable that was last notified, so several
-- 410s racing to disable the same endpoint notify once.
ALTER TABLE endpoints ADD COLUMN disabled_notified_at BIGINT;

CREATE TABLE notifications (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    endpoint_id  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,             -- endpoint.failing | endpoint.disabled | endpoint.recovered
    title        TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    read_at      BIGINT
);
CREATE INDEX notifications_workspace ON notifications (workspace_id, id);
CREATE INDEX notifications_unread ON notifications (workspace_id, read_at);
CREATE INDEX notifications_created ON notifications (created_at);

-- Retention deletes by age, oldest first, in bounded batches.
CREATE INDEX attempts_started ON attempts (started_at);
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX events_created ON events (created_at);

-- +goose Down
DROP INDEX events_created;
DROP INDEX deliveries_created;
DROP INDEX attempts_started;
DROP TABLE notifications;
ALTER TABLE endpoints DROP COLUMN disabled_notified_at;
ALTER TABLE endpoints DROP COLUMN failing_since;
