-- 001: pool foundation: API keys, worker enrolment tokens, workers.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  scope         text NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'admin')),
  secret_hash   text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE enrolment_tokens (
  id          text PRIMARY KEY,
  token_hash  text NOT NULL,
  note        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  worker_id   text
);

CREATE TABLE workers (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  credential_hash  text NOT NULL,
  hardware_class   text,
  hardware         jsonb NOT NULL DEFAULT '{}'::jsonb,
  models           jsonb NOT NULL DEFAULT '[]'::jsonb,
  agent_version    text,
  enrolled_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at     timestamptz,
  revoked_at       timestamptz
);
