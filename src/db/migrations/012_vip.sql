-- 012: the HA virtual IP (issue 17, guide §4.7). One row of VRRP settings per pool (id = 1), edited
-- by an admin (PUT /v1/admin/vip, the wizard's "Network → Enable HA virtual pool"), read by the
-- pool's keepalived sidecar (GET /v1/cluster/vip-self). The router id and the VRRP password are
-- derived from the cluster (src/pool/vip/vrrp.ts), never stored; `router_id` and `priority` here
-- are admin overrides (NULL: derived).
CREATE TABLE vip_settings (
  id integer PRIMARY KEY CHECK (id = 1),
  enabled boolean NOT NULL DEFAULT false,
  address text,
  interface text,
  priority integer CHECK (priority BETWEEN 1 AND 254),
  router_id integer CHECK (router_id BETWEEN 1 AND 255),
  mode text NOT NULL DEFAULT 'preempt' CHECK (mode IN ('preempt', 'no-preempt')),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);
-- What keepalived's notify script reported for this pool (MASTER / BACKUP / FAULT / STOP), newest
-- last; the last one is the pool's VRRP state. Trimmed to the last 1000.
CREATE TABLE vip_transitions (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  state text NOT NULL CHECK (state IN ('MASTER', 'BACKUP', 'FAULT', 'STOP')),
  priority integer,
  router_id integer,
  address text
);
