-- Delivery engine (issue 5): events as accepted, one delivery per (event, endpoint), and
-- every HTTP attempt. River's own tables hold the jobs; these hold what users see.

-- +goose Up
CREATE TABLE events (
    id              TEXT PRIMARY KEY,          -- ULID; webhook-id on the wire
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    data_type       TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,             -- the exact envelope bytes, sent on every attempt
    idempotency_key TEXT,                      -- producer API: a repeated key returns the first event
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events (workspace_id, idempotency_key);
CREATE INDEX events_workspace ON events (workspace_id, id);

-- endpoint_id has no foreign key on purpose: the delivery log outlives a deleted endpoint.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    state           TEXT NOT NULL,             -- pending|delivering|succeeded|retrying|failed|cancelled|skipped
    reason          TEXT NOT NULL DEFAULT '',  -- why skipped or cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    round_start     INTEGER NOT NULL DEFAULT 0, -- attempts made before this round of the schedule (recover starts a new round)
    seq             INTEGER NOT NULL DEFAULT 0, -- the live scheduled job's number; older jobs are stale
    lease_until     BIGINT,                    -- set while an attempt is in flight
    next_attempt_at BIGINT,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE UNIQUE INDEX deliveries_event_endpoint ON deliveries (event_id, endpoint_id);
CREATE INDEX deliveries_workspace ON deliveries (workspace_id, id);
CREATE INDEX deliveries_workspace_state ON deliveries (workspace_id, state, id);
CREATE INDEX deliveries_endpoint ON deliveries (workspace_id, endpoint_id, state, created_at);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_lease ON deliveries (state, lease_until);
CREATE INDEX deliveries_endpoint_delivered ON deliveries (endpoint_id, delivered_at);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    workspace_id     TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    number           INTEGER NOT NULL,
    started_at       BIGINT NOT NULL,
    duration_us      BIGINT NOT NULL,
    request_headers  TEXT NOT NULL DEFAULT '{}', -- JSON, signatures masked
    status           INTEGER NOT NULL DEFAULT 0,
    response_headers TEXT NOT NULL DEFAULT '{}', -- JSON
    response_body    TEXT NOT NULL DEFAULT '',   -- at most 16 KiB
    error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
