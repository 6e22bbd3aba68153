-- 010: the origin's signature over an envelope's header (without its payload), kept with the row so
-- that a placeholder of an erased envelope (payload wiped) can still be verified by the pools it is
-- served to. NULL for envelopes recorded before it existed.
ALTER TABLE federation_log ADD COLUMN header_sig text;
