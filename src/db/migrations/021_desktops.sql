-- 021: employee desktops as workers (issue 21, admin guide §2.1). `kind`: `desktop` (takes jobs only
-- while its machine is dormant) or `server`; a provisioning code's kind wins, like its site. The
-- harvest: per desktop and per day (UTC), dormant seconds contributed while connected and tokens
-- served, written periodically. A site's allowed hours for its desktops (null schedule: none stored).
ALTER TABLE workers ADD COLUMN kind text NOT NULL DEFAULT 'server';
ALTER TABLE enrolment_tokens ADD COLUMN kind text;
CREATE TABLE desktop_harvest (
  worker_id        text NOT NULL,
  day              text NOT NULL,
  site             text,
  dormant_seconds  double precision NOT NULL DEFAULT 0,
  tokens           bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (worker_id, day)
);
CREATE TABLE site_desktop_schedule (
  site        text PRIMARY KEY,
  schedule    jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text
);
