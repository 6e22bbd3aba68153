/**
 * First-boot setup: the wizard's steps (validated and stored one at a time, or all at once for an
 * unattended install), completion (sector defaults, the admin account, completed_at, audited),
 * and the cached "is setup complete?" answer the gate asks on every request.
 */
import { randomBytes } from "node:crypto";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { hashSecret } from "../../shared/secrets.js";
import {
  LOGO_MAX_BYTES,
  PASSWORD_MAX,
  PASSWORD_MIN,
  SetupAnswers,
  type SetupStateBody,
  STEP_NAMES,
  type IdentityStep,
  type SecurityStep,
  type TopologyStep,
  type SetupCompleted,
  type StepName,
  type StepWarning,
} from "../../protocol/setup.protocol.js";
import { AdminUsersRepository } from "../admin-users/admin-users.repository.js";
import { AuditRepository } from "../audit/audit.repository.js";
import type { AuditService } from "../audit/audit.service.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { VipRepository } from "../vip/vip.repository.js";
import { applySectorDefaults, SECTOR_DEFAULTS } from "./sector-defaults.js";
import type { SetupRepository } from "./setup.repository.js";
import { issueCodes, StepInvalid, validateStep, type FieldCodes, type ValidStep } from "./step-validation.js";

/** While setup is pending the flag is re-read at most this often (a CLI or another pool may complete it). */
const PENDING_RECHECK_MS = 500;

export interface SetupContext {
  /** Audit actor: `setup:wizard`, `setup:apply`, `cli:<user>`. */
  actor: string;
  via: "wizard" | "api" | "cli";
}

export const completedConflict = () => new AppError("setup_completed", "Setup is already complete: use re-open flow (license).");

const isStepName = (s: string): s is StepName => (STEP_NAMES as readonly string[]).includes(s);

export class SetupService {
  private readonly log: Logger = moduleLogger("setup");
  private completed = false;
  private checkedAt = 0;

  constructor(private readonly deps: { setup: SetupRepository; audit: AuditService; identity: Pick<PoolIdentity, "atomId" | "publicKeyHex">; now?: () => Date }) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /** The gate's question. Once complete, always complete (re-opening needs a restart). */
  async isCompleted(): Promise<boolean> {
    if (this.completed) return true;
    const t = Date.now();
    if (t - this.checkedAt < PENDING_RECHECK_MS) return false;
    this.checkedAt = t;
    this.completed = (await this.deps.setup.completedAt()) !== null;
    return this.completed;
  }

  /** Forgets the cached answer (next isCompleted() reads the database). */
  invalidate(): void {
    this.checkedAt = 0;
  }

  async logBootState(): Promise<void> {
    if (await this.isCompleted()) this.log.info("setup complete");
    else this.log.warn("first boot: setup pending — the API is closed until an admin completes the wizard at /setup/ui (or runs 'cellule setup apply --file answers.json')");
  }

  async state(): Promise<SetupStateBody> {
    const row = await this.deps.setup.get();
    if (row?.completed_at) return { completed: true, completed_at: row.completed_at.toISOString() };
    const answers = row?.answers ?? {};
    return {
      completed: false,
      completed_at: null,
      steps: Object.fromEntries(STEP_NAMES.map((s) => [s, answers[s] ?? null])),
      admin_password_set: Boolean(row?.admin_password_hash),
      logo: row?.logo_mime ? { mime: row.logo_mime, bytes: row.logo_bytes ?? 0 } : null,
      pool_identity: { atom_id: this.deps.identity.atomId, public_key: this.deps.identity.publicKeyHex },
      sector_defaults: SECTOR_DEFAULTS,
      limits: { password_min: PASSWORD_MIN, password_max: PASSWORD_MAX, logo_max_bytes: LOGO_MAX_BYTES },
    };
  }

  /** Validates and stores one step. 404 unknown step, 400 StepInvalid, 409 after completion. */
  async saveStep(name: string, body: unknown): Promise<{ ok: true; step: StepName; warnings: StepWarning[]; logo?: { mime: string; bytes: number } | null }> {
    if (!isStepName(name)) throw new AppError("unknown_step", `Unknown setup step '${name}'; steps are ${STEP_NAMES.join(", ")}.`);
    if (await this.isCompleted()) throw completedConflict();
    const valid = validateStep(name, body);
    const passwordHash = valid.password !== undefined ? await hashSecret(valid.password) : undefined;
    await this.deps.setup.locked(async (repo) => {
      if ((await repo.completedAt()) !== null) throw completedConflict();
      await this.store(repo, valid, passwordHash);
    });
    const logo = valid.logo === undefined ? undefined : valid.logo && { mime: valid.logo.mime, bytes: valid.logo.bytes.length };
    return { ok: true, step: name, warnings: valid.warnings, ...(logo !== undefined ? { logo } : {}) };
  }

  /** Completes setup from the stored steps (all six must be there). */
  async complete(ctx: SetupContext): Promise<SetupCompleted> {
    if (await this.isCompleted()) throw completedConflict();
    return this.finish(ctx, async () => undefined);
  }

  /** Unattended install: every step validated (all errors at once), stored, then completion. */
  async apply(body: unknown, ctx: SetupContext): Promise<SetupCompleted> {
    if (await this.isCompleted()) throw completedConflict();
    const shape = SetupAnswers.safeParse(body);
    if (!shape.success) throw new StepInvalid(null, issueCodes(shape.error.issues, body));
    const answers = shape.data as Record<StepName, unknown>;
    const valid: ValidStep[] = [];
    const codes: FieldCodes = {};
    for (const s of STEP_NAMES) {
      if (answers[s] === undefined) {
        codes[s] = "step_missing";
        continue;
      }
      try {
        valid.push(validateStep(s, answers[s]));
      } catch (err) {
        if (!(err instanceof StepInvalid)) throw err;
        for (const [k, c] of Object.entries(err.codes)) codes[`${s}.${k}`] = c;
      }
    }
    if (Object.keys(codes).length > 0) throw new StepInvalid(null, codes);
    const admin = valid.find((v) => v.step === "admin");
    const passwordHash = await hashSecret(admin!.password!);
    return this.finish(ctx, async (repo) => {
      for (const v of valid) await this.store(repo, v, v.step === "admin" ? passwordHash : undefined);
    });
  }

  /** The company name the wizard saved (the identity step's answer before completion), or null. */
  async companyName(): Promise<string | null> {
    return this.deps.setup.companyName();
  }

  async logo(): Promise<{ bytes: Buffer; mime: string } | undefined> {
    return this.deps.setup.logo();
  }

  private async store(repo: SetupRepository, valid: ValidStep, passwordHash: string | undefined): Promise<void> {
    await repo.saveAnswer(valid.step, valid.answer);
    if (valid.logo !== undefined) await repo.setLogo(valid.logo);
    if (passwordHash) await repo.setAdminPasswordHash(passwordHash);
  }

  private async finish(ctx: SetupContext, before: (repo: SetupRepository) => Promise<void>): Promise<SetupCompleted> {
    const at = new Date(Math.floor(this.now().getTime()));
    const result = await this.deps.setup.locked(async (repo, tx) => {
      if ((await repo.completedAt()) !== null) throw completedConflict();
      await before(repo);
      const row = await repo.get();
      const answers = row?.answers ?? {};
      const missing: FieldCodes = {};
      for (const s of STEP_NAMES) if (!answers[s]) missing[s] = "step_missing";
      if (!row?.admin_password_hash) missing.admin ??= "step_missing";
      if (Object.keys(missing).length > 0) throw new StepInvalid(null, missing, `Complete every step first: ${Object.keys(missing).join(", ")}.`);
      const identity = answers.identity as IdentityStep;
      const security = answers.security as SecurityStep;
      const email = (answers.admin as { email: string }).email;
      const { effective, record } = applySectorDefaults(identity.sector, { security, projectTemplate: identity.project_template }, at);
      await new AdminUsersRepository(tx).upsert({ id: randomBytes(6).toString("hex"), email, passwordHash: row!.admin_password_hash! });
      // The wizard's "Network → Enable HA virtual pool" (guide §4.7.2): the sidecar starts keepalived once this row exists.
      const haVip = (answers.topology as TopologyStep | undefined)?.ha_vip;
      if (haVip?.enabled && haVip.address && haVip.interface) {
        await new VipRepository(tx).save({ enabled: true, address: haVip.address, interface: haVip.interface, mode: haVip.mode ?? "preempt", priority: null, router_id: null }, ctx.actor);
      }
      await repo.complete({
        companyName: identity.company_name,
        sector: identity.sector,
        projectTemplate: effective.projectTemplate,
        auditGrade: effective.auditGrade,
        auditRetentionMonths: effective.auditRetentionMonths,
        auditRetentionUnlimited: effective.auditRetentionUnlimited,
        sectorDefaultsApplied: record,
        completedAt: at,
      });
      await this.deps.audit.record(
        {
          actor: ctx.actor,
          action: "setup.complete",
          target: `admin:${email}`,
          details: { via: ctx.via, sector: identity.sector, defaults_applied: Object.keys(record.applied), warnings: record.warnings.length },
        },
        new AuditRepository(tx),
      );
      return { completed: true as const, completed_at: at.toISOString(), admin_email: email, sector_defaults_applied: record };
    });
    // The gate opens now, without a restart.
    this.completed = true;
    this.log.info({ via: ctx.via, sector: result.sector_defaults_applied.sector }, "setup completed: the API is open");
    return result;
  }
}


