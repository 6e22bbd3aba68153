-- 009: replication bookkeeping on top of 008's federation_log.
-- redacted: the payload of an envelope whose project was erased since is wiped (erasure reaches
-- the log too); the row stays as a placeholder so the origin's sequence has no gap.
-- attempts: how many times applying it waited for something (a project not yet received, …).
ALTER TABLE federation_log ADD COLUMN redacted boolean NOT NULL DEFAULT false;
ALTER TABLE federation_log ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX federation_log_project_idx ON federation_log ((payload ->> 'project_id'));
