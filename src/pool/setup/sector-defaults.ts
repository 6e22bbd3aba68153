/**
 * Sector defaults (guide §1.6), applied once at setup completion. They only fill what the admin
 * left empty: an explicit choice always stands (retention 12 months for a law firm is kept, with a
 * warning recorded for the audit). What was applied, kept and warned is stored as JSONB.
 */
import type { AUDIT_GRADES, Sector, SectorDefaults, SectorDefaultsApplied, SecurityStep } from "../../protocol/setup.protocol.js";

export const SECTOR_DEFAULTS: Record<Sector, SectorDefaults> = {
  LAW: { retention_months_min: 120, audit_grade: "strict", template: "Client matter:" },
  HEALTHCARE: { retention_months_min: 240, audit_grade: "iso27001", template: "Patient:" },
  ACCOUNTING: { retention_months_min: 120, audit_grade: "strict", template: "Accounting file:" },
  ARCHITECTURE_ENGINEERING: { retention_months_min: 60, audit_grade: "basic", template: "Project:" },
  DESIGN: { retention_months_min: 24, audit_grade: "basic", template: "Client deliverable:" },
  CONSULTING: { retention_months_min: 60, audit_grade: "strict", template: "Engagement:" },
  OTHER: { retention_months_min: 12, audit_grade: "basic", template: "" },
};

const GRADE_RANK: Record<(typeof AUDIT_GRADES)[number], number> = { basic: 0, strict: 1, iso27001: 2 };

export interface EffectiveSettings {
  /** null when retention is unlimited. */
  auditRetentionMonths: number | null;
  auditRetentionUnlimited: boolean;
  auditGrade: (typeof AUDIT_GRADES)[number];
  projectTemplate: string;
}

export function applySectorDefaults(
  sector: Sector,
  explicit: { security: Pick<SecurityStep, "audit_retention_months" | "audit_grade">; projectTemplate: string | null | undefined },
  at: Date,
): { effective: EffectiveSettings; record: SectorDefaultsApplied } {
  const d = SECTOR_DEFAULTS[sector];
  const applied: Record<string, unknown> = {};
  const kept: Record<string, unknown> = {};
  const warnings: string[] = [];

  const retention = explicit.security.audit_retention_months;
  let auditRetentionMonths: number | null;
  let auditRetentionUnlimited = false;
  if (retention === null || retention === undefined) {
    auditRetentionMonths = d.retention_months_min;
    applied.audit_retention_months = d.retention_months_min;
  } else if (retention === "unlimited") {
    auditRetentionMonths = null;
    auditRetentionUnlimited = true;
    kept.audit_retention_months = "unlimited";
  } else {
    auditRetentionMonths = retention;
    kept.audit_retention_months = retention;
    if (retention < d.retention_months_min) {
      warnings.push(
        `Audit retention of ${retention} months chosen by the admin is below the ${sector} sector minimum of ${d.retention_months_min} months: the audit trail is kept for ${d.retention_months_min} months; legal archiving obligations remain the customer's responsibility.`,
      );
    }
  }

  const grade = explicit.security.audit_grade;
  let auditGrade = d.audit_grade;
  if (grade === null || grade === undefined) applied.audit_grade = d.audit_grade;
  else {
    auditGrade = grade;
    kept.audit_grade = grade;
    if (GRADE_RANK[grade] < GRADE_RANK[d.audit_grade]) warnings.push(`Audit grade '${grade}' chosen by the admin is weaker than the ${sector} sector default '${d.audit_grade}'.`);
  }

  const template = explicit.projectTemplate?.trim();
  let projectTemplate = d.template;
  if (!template) applied.project_template = d.template;
  else {
    projectTemplate = template;
    kept.project_template = template;
  }

  return {
    effective: { auditRetentionMonths, auditRetentionUnlimited, auditGrade, projectTemplate },
    record: { sector, applied, kept, warnings, at: at.toISOString() },
  };
}
