-- 008: federation. Bonded peers (Ed25519 identity, trust 0..3), single-use attachment tokens (only
-- the secret's hash is stored), the federation state (kill switch, auto-promotion), and the signed
-- replication log with its tombstones and the settings clock (used by replication, issue 7).

CREATE TABLE federation_peers (
  atom_id       text PRIMARY KEY,
  public_key    text NOT NULL,
  url           text NOT NULL,
  trust_level   integer NOT NULL DEFAULT 1 CHECK (trust_level BETWEEN 0 AND 3),
  status        text NOT NULL DEFAULT 'bonded' CHECK (status IN ('bonded', 'unbonded')),
  bonded_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz,
  latency_ms    double precision,
  network_class text CHECK (network_class IN ('lan', 'metro', 'wan')),
  last_error    text,
  -- When the last error was recorded (auto-promotion wants N days without one).
  last_error_at timestamptz,
  unbonded_at   timestamptz
);

CREATE TABLE federation_attach_tokens (
  id          text PRIMARY KEY,
  token_hash  text NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  used_by     text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row (id = 1): the kill switch and the auto-promotion toggle (null = off).
CREATE TABLE federation_state (
  id                 integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  killed             boolean NOT NULL DEFAULT false,
  auto_promote_days  integer CHECK (auto_promote_days IS NULL OR auto_promote_days BETWEEN 1 AND 365),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO federation_state (id) VALUES (1);

-- Bond handshakes in progress (bond/start → bond/finish): the nonce this pool issued, for a minute.
CREATE TABLE federation_bond_challenges (
  id          text PRIMARY KEY,
  nonce       text NOT NULL,
  peer_atom   text NOT NULL,
  -- The initiator as it presented itself at bond/start (JSON {atom_id, public_key, url}).
  peer        jsonb NOT NULL,
  mode        text NOT NULL CHECK (mode IN ('token', 'secret')),
  token_id    text,
  expires_at  timestamptz NOT NULL
);

CREATE TABLE federation_log (
  origin        text NOT NULL,
  seq           bigint NOT NULL,
  ts            timestamptz NOT NULL,
  hlc           text NOT NULL,
  kind          text NOT NULL,
  payload_hash  text NOT NULL,
  payload       jsonb NOT NULL,
  sig           text NOT NULL,
  received_from text,
  received_at   timestamptz NOT NULL DEFAULT now(),
  applied_at    timestamptz,
  apply_error   text,
  PRIMARY KEY (origin, seq)
);
CREATE INDEX federation_log_unapplied ON federation_log (origin, seq) WHERE applied_at IS NULL;

CREATE TABLE federation_tombstones (
  kind    text NOT NULL,
  id      text NOT NULL,
  origin  text NOT NULL,
  hlc     text NOT NULL,
  at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, id)
);

CREATE TABLE federation_settings_clock (
  key     text PRIMARY KEY,
  hlc     text NOT NULL,
  origin  text NOT NULL
);
