-- 020: the account whose failed logins placed a lockout (issue 20). `cellule admin reset-password`
-- lifts the account's lockout and the lockouts of the addresses its failures locked, so the admin
-- can log in again from the machine that was locked out.
ALTER TABLE admin_lockouts ADD COLUMN email text;
