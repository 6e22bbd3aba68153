/**
 * A worker's effective clearance (issue 21 must-have 3, admin guide §5.3): the level the admin set
 * for it, else the default of its kind — an employee desktop sees at most `internal` data, a server
 * enrolled as such `confidential`. `restricted` is never a default: an admin grants it by name.
 */
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";

/** Default clearance of a desktop worker (its owner's machine, outside the machine room). */
export const DESKTOP_CLEARANCE: SensitivityLevel = "internal";
/** Default clearance of a server worker. */
export const SERVER_CLEARANCE: SensitivityLevel = "confidential";

/** The admin's value when set (null/undefined: none), else the default for a desktop or a server. */
export function effectiveClearance(stored: SensitivityLevel | null | undefined, desktop: boolean): SensitivityLevel {
  if (stored) return stored;
  return desktop ? DESKTOP_CLEARANCE : SERVER_CLEARANCE;
}
