-- 006: runtime settings changed by an admin (applied without restart) and the declared headcount
-- of each site (worker balancing). A setting with no row here uses its boot default (env or built-in).

CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text
);

CREATE TABLE site_headcount (
  site        text PRIMARY KEY,
  headcount   integer NOT NULL CHECK (headcount >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text
);
