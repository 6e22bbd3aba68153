-- 014: worker mobility (issue 16 must-have 6, admin guide §4.2). `on-site`: the worker never leaves
-- the pools of its site; `mobile`: any trusted pool. A provisioning code may fix it (it wins over
-- what the worker says in its hello, like the site).
ALTER TABLE workers ADD COLUMN mobility text NOT NULL DEFAULT 'mobile';
ALTER TABLE enrolment_tokens ADD COLUMN mobility text;
