-- 003: the installed Cellule-PRO license. One row (id = 1), created here so that the documented
-- last-resort override `UPDATE cluster_license SET enforce = FALSE WHERE id = 1` always finds it.
-- `token` is the uploaded JWT (null: no license, evaluation mode); it is re-verified by the pool and
-- is the only source of truth; client_id, tier and expires_at are copies for people reading the table.
-- `revoked` lets an operator disable the installed license locally; uploading a new one clears it.
CREATE TABLE cluster_license (
  id            integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  token         text,
  client_id     text,
  tier          text,
  expires_at    timestamptz,
  installed_at  timestamptz,
  enforce       boolean NOT NULL DEFAULT TRUE,
  revoked       boolean NOT NULL DEFAULT FALSE,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cluster_license (id) VALUES (1);
