-- 007: worker sites. A worker reports its site in `hello`; a provisioning code created for a site
-- assigns that site at enrolment (and keeps winning over what the worker says afterwards).
ALTER TABLE workers ADD COLUMN site text;
ALTER TABLE enrolment_tokens ADD COLUMN site text;
