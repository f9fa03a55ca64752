-- The deliveries table becomes the delivery queue (issue 17; docs/architecture.md, "The
-- delivery queue"). A delivery wants a worker while next_attempt_at is set: for a pending or
-- retrying delivery that is when it is due; while it is being delivered it is the end of
-- the worker's lease (renewed while the attempt runs), so a delivery whose process died is
-- due again once the lease ends. One River job per delivery, the seq of its live job and
-- lease_until are gone: seq now counts claims, and a result is recorded only under the
-- claim that made it.

-- +goose Up
ALTER TABLE deliveries ADD COLUMN manual BOOLEAN NOT NULL DEFAULT FALSE; -- a manual retry is queued
ALTER TABLE deliveries ADD COLUMN resume_at BIGINT;                       -- where the schedule resumes if that retry fails
UPDATE deliveries SET next_attempt_at = lease_until WHERE state = 'delivering';
DROP INDEX deliveries_lease;
DROP INDEX deliveries_due;
ALTER TABLE deliveries DROP COLUMN lease_until;
CREATE INDEX deliveries_queue ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
ALTER TABLE attempts ADD COLUMN worker TEXT NOT NULL DEFAULT ''; -- the process that made it (host/pid)
-- Jobs of the old engine: their deliveries are now queued by next_attempt_at.
DELETE FROM river_job WHERE kind = 'delivery_attempt';

-- +goose Down
ALTER TABLE attempts DROP COLUMN worker;
DROP INDEX deliveries_queue;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
ALTER TABLE deliveries DROP COLUMN resume_at;
ALTER TABLE deliveries DROP COLUMN manual;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_lease ON deliveries (state, lease_until);
