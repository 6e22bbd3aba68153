/**
 * Data sensitivity (issue 21 must-have 3, admin guide §5.3): the level a project's data has and
 * the clearance a worker holds, on one ordered scale. A job touching a project runs only on a
 * worker whose clearance is at least the project's level (src/pool/hub/clearance.ts).
 */
import { z } from "zod";

/** Lowest to highest; the order is the meaning (a clearance covers its level and every one below). */
export const SENSITIVITY_LEVELS = ["public", "internal", "confidential", "restricted"] as const;
export const SensitivityLevel = z.enum(SENSITIVITY_LEVELS);
export type SensitivityLevel = z.infer<typeof SensitivityLevel>;

/** Position of a level on the scale (public 0 … restricted 3). */
export const levelRank = (level: SensitivityLevel): number => SENSITIVITY_LEVELS.indexOf(level);

/** True when a worker cleared for `clearance` may see data of `level`. */
export const covers = (clearance: SensitivityLevel, level: SensitivityLevel): boolean => levelRank(clearance) >= levelRank(level);

/** The higher of two levels (a job touching two things needs the stricter one). */
export const stricter = (a: SensitivityLevel, b: SensitivityLevel): SensitivityLevel => (levelRank(a) >= levelRank(b) ? a : b);

/** Levels whose every placement is written to the audit trail. */
export const auditedLevel = (level: SensitivityLevel): boolean => levelRank(level) >= levelRank("confidential");

/** PUT /v1/admin/projects/:id/sensitivity. */
export const SetSensitivityBody = z.object({ sensitivity: SensitivityLevel });
export type SetSensitivityBody = z.infer<typeof SetSensitivityBody>;

/** PUT /v1/admin/workers/:id/clearance (admin): null returns the worker to its default. */
export const SetClearanceBody = z.object({ clearance: SensitivityLevel.nullable() });
export type SetClearanceBody = z.infer<typeof SetClearanceBody>;
