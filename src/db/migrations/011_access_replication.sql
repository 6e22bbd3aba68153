-- 011: access is cluster-wide (issue 15). Access rows replicate to trusted peers through the signed
-- log (federation_log). `replicated` / `recorded_hash` say whether this pool's log already carries
-- the row as it is: a row written before the pool's first bond, or by an admin command beside the
-- running pool (`cellule keys create`, `cellule admin reset-password`), is recorded by the
-- replication sweep (every sync interval) and then marked. Rows applied from a peer are marked at
-- once (they are in the log already, under their origin). Enrolment tokens stay local: never logged.
ALTER TABLE api_keys ADD COLUMN replicated boolean NOT NULL DEFAULT false;
CREATE INDEX api_keys_unreplicated_idx ON api_keys (id) WHERE NOT replicated;
ALTER TABLE workers ADD COLUMN replicated boolean NOT NULL DEFAULT false;
CREATE INDEX workers_unreplicated_idx ON workers (id) WHERE NOT replicated;
ALTER TABLE admin_sessions ADD COLUMN replicated boolean NOT NULL DEFAULT false;
CREATE INDEX admin_sessions_unreplicated_idx ON admin_sessions (token_hash) WHERE NOT replicated;
-- The password hash last recorded (or applied) for the account: differs after a local change.
ALTER TABLE admin_users ADD COLUMN recorded_hash text;
-- When the single-row access state (company identity and logo, site headcounts, license) held
-- before the first bond was recorded: once per pool.
ALTER TABLE federation_state ADD COLUMN access_backfilled_at timestamptz;
