-- 004: first-boot setup (wizard state, the effective settings it produced) and admin accounts.

-- One row at most (id = 1). No row, or completed_at NULL: setup pending, the gate blocks the API.
-- Dev-only reset: DELETE FROM cluster_setup_state; then restart the pool.
CREATE TABLE cluster_setup_state (
  id                       integer PRIMARY KEY CHECK (id = 1),
  -- Validated answers of each wizard step, by step name (never a password, never the logo bytes).
  answers                  jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Argon2id hash of the admin password given at the admin step; the admin_users row is created at completion.
  admin_password_hash      text,
  logo                     bytea,
  logo_mime                text,
  -- Effective settings, written at completion (sector defaults filled in where the admin left a field empty).
  company_name             text,
  sector                   text,
  project_template         text,
  audit_grade              text,
  -- NULL with audit_retention_unlimited = true: keep the audit trail forever.
  audit_retention_months   integer,
  audit_retention_unlimited boolean NOT NULL DEFAULT false,
  sector_defaults_applied  jsonb,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  completed_at             timestamptz
);

-- Email is stored trimmed and lower-cased, so the unique constraint is case-insensitive.
CREATE TABLE admin_users (
  id                   text PRIMARY KEY,
  email                text NOT NULL UNIQUE,
  -- Argon2id PHC string ($argon2id$…). A value not starting with $argon2 is a legacy plain-text
  -- password that the pool re-hashes at boot.
  password_hash        text NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  password_changed_at  timestamptz NOT NULL DEFAULT now(),
  last_login_at        timestamptz
);

-- Sessions: only the SHA-256 of the cookie value and of the CSRF token are stored.
CREATE TABLE admin_sessions (
  token_hash    text PRIMARY KEY,
  admin_id      text NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
  csrf_hash     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  ip            text
);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);

-- Failed logins (per account email and per source address), for the lockout window.
CREATE TABLE admin_login_failures (
  id     bigserial PRIMARY KEY,
  email  text NOT NULL,
  ip     text NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_login_failures_email_idx ON admin_login_failures (email, at);
CREATE INDEX admin_login_failures_ip_idx ON admin_login_failures (ip, at);

-- Active lockouts: kind 'email' or 'ip'.
CREATE TABLE admin_lockouts (
  kind     text NOT NULL CHECK (kind IN ('email', 'ip')),
  subject  text NOT NULL,
  until    timestamptz NOT NULL,
  PRIMARY KEY (kind, subject)
);
