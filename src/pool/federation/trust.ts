/** Trust levels of a bonded peer: 1 at bonding, raised by an admin (or auto-promotion). Replication only at MIN_TRUST_LEVEL. */
export const MIN_TRUST_LEVEL = 3;
/** Trust a new bond starts with. */
export const INITIAL_TRUST_LEVEL = 1;
export const MAX_TRUST_LEVEL = 3;
