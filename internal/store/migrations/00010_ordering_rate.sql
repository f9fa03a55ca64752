-- Per-endpoint ordering and rate limits (issue 14; docs/architecture.md, "Ordering and rate
-- limits").
--
-- FIFO: a fifo endpoint's deliveries are inserted waiting (pending, next_attempt_at NULL, so
-- outside the queue index). One of them at a time, the head, has next_attempt_at set; the
-- next is promoted, oldest first, when the head becomes final — under a per-endpoint lock,
-- so two instances never queue two heads. A manual retry of a final fifo delivery waits with
-- manual set. The two partial indexes hold fifo rows only: other endpoints pay nothing.
--
-- Rate limit: endpoint_rates.next_at is the earliest time the endpoint's next send may
-- start; each send (or throttled delivery) reserves the slot there and moves it on by
-- 1/max_per_second.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';          -- none|fifo
ALTER TABLE endpoints ADD COLUMN max_per_second INTEGER NOT NULL DEFAULT 0;      -- 0: no limit
ALTER TABLE deliveries ADD COLUMN fifo BOOLEAN NOT NULL DEFAULT FALSE;           -- delivered in publish order
CREATE INDEX deliveries_fifo_waiting ON deliveries (endpoint_id, created_at, id)
    WHERE fifo AND next_attempt_at IS NULL AND (state = 'pending' OR manual);
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id) WHERE fifo AND next_attempt_at IS NOT NULL;
CREATE TABLE endpoint_rates (
    endpoint_id TEXT PRIMARY KEY,
    next_at     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE endpoint_rates;
DROP INDEX deliveries_fifo_head;
DROP INDEX deliveries_fifo_waiting;
ALTER TABLE deliveries DROP COLUMN fifo;
ALTER TABLE endpoints DROP COLUMN max_per_second;
ALTER TABLE endpoints DROP COLUMN ordering;
