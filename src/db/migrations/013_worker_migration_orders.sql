-- 013: migration orders (issue 16, admin guide §4.6.2). An order moves one worker from one pool to
-- another for good; it is signed (Ed25519) by the pool that issued it (`issued_by`, an atom id) over
-- the canonical JSON of its fields (src/pool/migrations/order-signing.ts), replicated to the trusted
-- peers, carried out by the pool the worker is connected to and confirmed by the target pool.
-- States only move forward: proposed → issued → draining → completed | rolled_back | rejected.
CREATE TABLE worker_migration_orders (
  id text PRIMARY KEY,
  worker_id text NOT NULL,
  from_pool text NOT NULL,
  to_pool text NOT NULL,
  to_pool_url text NOT NULL,
  reason text NOT NULL CHECK (reason IN ('balancer', 'subnet', 'latency', 'admin', 'force_failover')),
  detail text NOT NULL DEFAULT '',
  issued_by text NOT NULL,
  signature text NOT NULL,
  state text NOT NULL CHECK (state IN ('proposed', 'issued', 'draining', 'completed', 'rolled_back', 'rejected')),
  state_detail text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- When the worker was told (draining) and by which pool (its executor): the 90 s rollback runs
  -- from here, on that pool.
  draining_at timestamptz,
  executor text
);
-- At most one open order per worker (the balancer and the routing are idempotent through it).
CREATE UNIQUE INDEX worker_migration_orders_one_open ON worker_migration_orders (worker_id) WHERE state IN ('proposed', 'issued', 'draining');
CREATE INDEX worker_migration_orders_state ON worker_migration_orders (state, created_at);
-- The cluster's worker-movement policy (one row, replicated, last writer wins by HLC): the JSON of
-- MigrationPolicy (src/protocol/migration.protocol.ts). No row: the pool's defaults (env).
CREATE TABLE worker_migration_policy (
  id integer PRIMARY KEY CHECK (id = 1),
  policy jsonb NOT NULL,
  -- The failover thresholds were set by an admin (pushed to the workers even when the env sets none).
  failover_set boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);
