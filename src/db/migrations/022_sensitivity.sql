-- 022: sensitivity routing (issue 21 must-have 3, admin guide §5.3). A project has a sensitivity
-- level; existing projects take the default of the pool's sector (HEALTHCARE and LAW:
-- confidential, others: internal). A worker may have a clearance set by an admin; NULL means its
-- default (desktop: internal, server: confidential), decided live by the hub.
ALTER TABLE projects ADD COLUMN sensitivity text NOT NULL DEFAULT 'internal';
UPDATE projects SET sensitivity = 'confidential'
  WHERE EXISTS (SELECT 1 FROM cluster_setup_state s WHERE s.sector IN ('HEALTHCARE', 'LAW'));
ALTER TABLE workers ADD COLUMN clearance text;
