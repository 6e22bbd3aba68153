-- 018: human pool names (issue 20 must-have 4). One row per pool this pool knows a name for: its
-- own (set in the dashboard, or from POOL_NAME at boot) and its peers' (replicated `pool.name`
-- envelopes, signed by the named pool itself). `source` says where this pool's own name came from
-- ('env': POOL_NAME, 'dashboard': an admin; 'peer' for the others); `recorded` whether this
-- pool's log already carries its own name (else the access sweep records it at the first bond).
CREATE TABLE pool_names (
  atom_id     text PRIMARY KEY,
  name        text,
  source      text NOT NULL CHECK (source IN ('env', 'dashboard', 'peer')),
  recorded    boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);
