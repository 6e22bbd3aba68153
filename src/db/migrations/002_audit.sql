-- 002: the append-only, hash-chained, signed audit trail.
CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  action      text NOT NULL,
  target      text,
  project_id  text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash   text NOT NULL,
  hash        text NOT NULL,
  signer      text NOT NULL,
  signature   text NOT NULL
);
CREATE INDEX audit_log_project_idx ON audit_log (project_id, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);

-- UPDATE and DELETE are refused; the retention job alone may delete, inside a transaction that
-- sets cellule.audit_retention = 'on' and then appends a checkpoint entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cellule.audit_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
