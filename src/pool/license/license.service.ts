/**
 * The installed license and what it allows. The status is computed at each call from the stored row
 * and the (injectable) clock, so a direct SQL change, another pool sharing the database or the
 * passing of time take effect on the next request. A token's verification is remembered per token,
 * so the signature is checked once per upload or boot, not per request.
 *
 * Doctrine: never a kill-switch. Reads and inference are never gated (see license.gate.ts), a pool
 * without a license runs in evaluation mode, and `enforce = false` lets every mutation through.
 */
import type { LicensePayload, LicenseStatus, LicenseView } from "../../protocol/license.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import { DAY_S, daysRemaining, graceEnd, isoOfSeconds, timeStatus } from "./license-status.js";
import type { LicenseRepository, LicenseRow } from "./license.repository.js";
import type { LicenseValidator } from "./license.validator.js";
import type { LicenseFeature } from "../../protocol/license-features.js";

export interface LicenseState {
  status: LicenseStatus;
  enforce: boolean;
  /** The verified claims (absent for `none` and `invalid`). */
  payload?: LicensePayload;
  row: LicenseRow;
  /** Why the status is `invalid` or `revoked`. */
  problem?: string;
}

type Verified = { ok: true; payload: LicensePayload } | { ok: false; problem: string };

/** How often the warning_j30 WARNING is repeated on mutations (it is also logged at boot). */
const WARNING_EVERY_MS = 24 * 3600 * 1000;

export class LicenseService {
  private readonly log: Logger;
  private readonly now: () => number;
  private verified: { token: string; result: Verified } | undefined;
  private lastWarningAt = Number.NEGATIVE_INFINITY;
  /** Set by buildPool: what each limit counts now (the License page shows it beside the limit). */
  usage?: (() => Promise<Record<string, number>>) | undefined;
  /** Set by replication: an installed or removed license goes to the trusted peers (each re-validates it). */
  replication?: Pick<Replicator, "record"> | undefined;

  constructor(private readonly deps: { repo: LicenseRepository; validator: LicenseValidator; audit: AuditService; now?: () => number; log?: Logger }) {
    this.log = deps.log ?? moduleLogger("license");
    this.now = deps.now ?? Date.now;
  }

  /** Boot check (guide §7.10): the row exists, the revocation list is loaded, the status is logged. */
  async boot(): Promise<LicenseState> {
    const created = await this.deps.repo.ensureRow();
    this.log.info({ rowCreated: created }, "license: schema ensured=true");
    this.log.info({ entries: this.deps.validator.revokedCount }, `license: revoked clients list loaded (${this.deps.validator.revokedCount} entries)`);
    if (!this.deps.validator.initialized) this.log.warn("license: public key not initialized (placeholder) - every license upload will be refused until the signing ceremony is done");
    const s = await this.state();
    this.logBoot(s);
    if (!s.enforce) this.log.warn({ enforce: false }, "license: enforce is false - the license gate lets every mutation through");
    return s;
  }

  /** The current state: stored row + verification + clock. */
  async state(): Promise<LicenseState> {
    const row = await this.deps.repo.get();
    const base = { enforce: row.enforce, row };
    if (!row.token) return { ...base, status: "none" };
    const v = await this.verifyStored(row.token);
    if (!v.ok) return { ...base, status: "invalid", problem: v.problem };
    const revoked = this.deps.validator.revocationOf(v.payload);
    if (revoked) return { ...base, status: "revoked", payload: v.payload, problem: `client revoked on ${revoked.revoked_at} (${revoked.reason}) by the release's revocation list` };
    if (row.revoked) return { ...base, status: "revoked", payload: v.payload, problem: "revoked flag set on this pool (cluster_license.revoked)" };
    return { ...base, status: timeStatus(v.payload, this.now()), payload: v.payload };
  }

  /** What GET /v1/admin/license shows; never the token. */
  async view(): Promise<LicenseView> {
    const [state, usage] = await Promise.all([this.state(), this.usage?.() ?? {}]);
    return { ...this.present(state), usage };
  }

  /**
   * Verifies (signature → schema → revocation) and stores a license. A license already past its
   * grace window is refused: installing it would only block mutations. `onlyIfNone` (first-boot
   * wizard) refuses with 409 when a license is already installed.
   */
  async install(token: string, actor: string, opts: { onlyIfNone?: boolean } = {}): Promise<LicenseView> {
    const payload = await this.deps.validator.validate(token);
    const nowMs = this.now();
    if (timeStatus(payload, nowMs) === "expired") {
      throw new AppError("license_token_expired", `This license of '${payload.client_id}' expired on ${isoOfSeconds(payload.exp)} and its grace period ended on ${isoOfSeconds(graceEnd(payload))}; ask for a renewed license.`);
    }
    const stored = await this.deps.repo.install(
      { token, clientId: payload.client_id, tier: payload.tier, expiresAt: new Date(payload.exp * 1000), installedAt: new Date(nowMs) },
      opts.onlyIfNone,
    );
    if (!stored) throw new AppError("license_already_installed", "A license is already installed: replace it from the admin API (POST /v1/admin/license/upload) or the dashboard.");
    this.verified = { token, result: { ok: true, payload } };
    await this.deps.audit.record({ actor, action: "license.upload", target: `license:${payload.client_id}`, details: { client_id: payload.client_id, tier: payload.tier, exp: payload.exp, grace_days: payload.grace_days } });
    await this.replication?.record("license.update", { token });
    const view = await this.view();
    this.log.info({ clientId: payload.client_id, tier: payload.tier, status: view.status, daysRemaining: view.days_remaining, actor }, `license installed: ${view.status}, client=${payload.client_id} tier=${payload.tier} expires_in=${view.days_remaining}d`);
    return view;
  }

  /**
   * LICENSE_KEY at boot: installs `token` (audited as `actor`) unless it is the installed one
   * already, or the installed license is a usable one that expires later (a renewal made from the
   * dashboard is never undone by an older LICENSE_KEY left in the environment). Never throws: a
   * license that does not validate is logged at ERROR with the reason and refused, and the pool
   * starts with what it had (the token itself is never logged).
   */
  async installAtBoot(token: string, actor: string): Promise<"installed" | "unchanged" | "kept_later" | "refused"> {
    const s = await this.state();
    if (s.row.token === token) {
      this.log.info({ status: s.status, clientId: s.payload?.client_id }, "LICENSE_KEY: this license is already installed");
      return "unchanged";
    }
    let payload: LicensePayload;
    try {
      payload = await this.deps.validator.validate(token);
      const usable = s.payload && (s.status === "active" || s.status === "warning_j30" || s.status === "grace");
      if (usable && s.payload!.exp > payload.exp) {
        this.log.warn({ installed: s.payload!.client_id, installedExp: isoOfSeconds(s.payload!.exp), givenExp: isoOfSeconds(payload.exp) }, "LICENSE_KEY: not installed - the installed license expires later (renewed from the dashboard?); remove LICENSE_KEY or update it");
        return "kept_later";
      }
      await this.install(token, actor);
      return "installed";
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.log.error({ code: err.code, status: s.status }, `LICENSE_KEY refused: ${err.message} - the pool starts ${s.status === "none" ? "in evaluation mode" : `with its installed license (${s.status})`}`);
      return "refused";
    }
  }

  /** Removes the license: back to evaluation mode. `enforce` is kept. */
  async remove(actor: string): Promise<LicenseView> {
    const before = await this.deps.repo.get();
    await this.deps.repo.clear();
    await this.replication?.record("license.update", { token: null });
    await this.deps.audit.record({ actor, action: "license.delete", target: before.client_id ? `license:${before.client_id}` : undefined, details: { client_id: before.client_id, had_license: before.token !== null } });
    this.log.warn({ clientId: before.client_id, actor }, "license removed - evaluation mode (mutations allowed)");
    return this.view();
  }

  /**
   * A license installed (or removed: null) on another pool: verified here by this pool's own
   * validator (signature, schema, revocation) before it is stored; never recorded again. The apply
   * loop audits it (actor peer:<origin>).
   */
  async applyReplicated(token: string | null): Promise<{ ok: true } | { ok: false; why: string }> {
    if (token === null) {
      await this.deps.repo.clear();
      this.log.warn("license removed on another pool - evaluation mode (mutations allowed)");
      return { ok: true };
    }
    let payload: LicensePayload;
    try {
      payload = await this.deps.validator.validate(token);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.log.warn({ problem: err.message }, "license installed on another pool does not validate here: not installed");
      return { ok: false, why: err.message };
    }
    await this.deps.repo.install({ token, clientId: payload.client_id, tier: payload.tier, expiresAt: new Date(payload.exp * 1000), installedAt: new Date(this.now()) });
    this.verified = { token, result: { ok: true, payload } };
    this.log.info({ clientId: payload.client_id, tier: payload.tier }, "license installed on another pool: validated and installed here");
    return { ok: true };
  }

  /** The emergency override: `false` lets every mutation through. Each call is logged at WARNING and audited. */
  async setEnforce(enabled: boolean, actor: string): Promise<{ ok: true; enforce: boolean }> {
    const previous = await this.deps.repo.setEnforce(enabled);
    this.log.warn({ enforce: enabled, previous, actor }, `license.enforce toggled to ${enabled}`);
    await this.deps.audit.record({ actor, action: "license.enforce", target: "license:enforce", details: { enabled, previous } });
    return { ok: true, enforce: enabled };
  }

  /**
   * The gate's decision for one mutation that is not exempt (license.gate.ts chooses which).
   * Logs the warning progression: WARNING (at most daily) within 30 days of exp, ERROR on each
   * mutation during grace, CRITICAL (pino `fatal`) on each refused one. Throws 402 when refused.
   */
  async checkMutation(ctx: { method: string; route: string }): Promise<void> {
    const s = await this.state();
    if (!s.enforce) return;
    switch (s.status) {
      case "none":
      case "active":
        return;
      case "warning_j30": {
        const now = this.now();
        if (now - this.lastWarningAt >= WARNING_EVERY_MS) {
          this.lastWarningAt = now;
          this.log.warn({ ...ctx, clientId: s.payload?.client_id, daysRemaining: s.payload && daysRemaining(s.payload, now) }, `license expires in ${s.payload ? daysRemaining(s.payload, now) : "?"}d (${s.payload ? isoOfSeconds(s.payload.exp) : "?"}) - renew it`);
        }
        return;
      }
      case "grace": {
        const p = s.payload!;
        this.log.error({ ...ctx, clientId: p.client_id, graceEndsAt: isoOfSeconds(graceEnd(p)) }, `license expired on ${isoOfSeconds(p.exp)} - grace period: mutations refused from ${isoOfSeconds(graceEnd(p))} unless renewed`);
        return;
      }
      case "expired":
      case "revoked":
      case "invalid":
        this.log.fatal({ ...ctx, severity: "CRITICAL", status: s.status, clientId: s.payload?.client_id ?? s.row.client_id, problem: s.problem }, `CRITICAL license ${s.status}: mutation refused (reads, exports and inference keep working)`);
        throw refusal(s);
    }
  }

  /**
   * Feature gate for a route that needs `name` (e.g. `rag_documents` on document upload). Passes
   * without a license (evaluation mode) or with enforce off; 403 `feature_not_licensed` when the
   * license lacks it; 402 when the license is expired, revoked or invalid.
   */
  async requireFeature(name: LicenseFeature): Promise<void> {
    const s = await this.gated();
    if (!s) return;
    if (!s.payload!.features.includes(name)) {
      throw new AppError("feature_not_licensed", `feature_not_licensed: '${name}' is not part of this license (tier ${s.payload!.tier}).`);
    }
  }

  /**
   * Limit gate: the caller counts (`currentCount`, read at call time) and asks before adding one
   * more. 402 `limit_reached:max_pools=5>=5` when currentCount ≥ the license's limit; no gate when
   * the license declares no such limit, without a license, or with enforce off.
   */
  async requireLimit(name: string, currentCount: number): Promise<void> {
    const s = await this.gated();
    if (!s) return;
    const max = s.payload!.limits[name];
    if (max !== undefined && currentCount >= max) throw new AppError("limit_reached", `limit_reached:${name}=${currentCount}>=${max}`);
  }

  /**
   * The feature gate for what no client request drives (the balancer's rounds, latency routing at a
   * worker's handshake): undefined when `name` may run now, else the refusal requireFeature would
   * throw (403 feature_not_licensed, 402 license_expired/revoked/invalid), for the caller to log.
   */
  async featureRefusal(name: LicenseFeature): Promise<AppError | undefined> {
    try {
      await this.requireFeature(name);
      return undefined;
    } catch (err) {
      if (err instanceof AppError) return err;
      throw err;
    }
  }

  /** The state when a feature/limit gate applies (a license is installed and enforced); throws 402 for an unusable one. */
  private async gated(): Promise<LicenseState | undefined> {
    const s = await this.state();
    if (!s.enforce || s.status === "none") return undefined;
    if (s.status === "expired" || s.status === "revoked" || s.status === "invalid") throw refusal(s);
    return s;
  }

  private async verifyStored(token: string): Promise<Verified> {
    if (this.verified?.token === token) return this.verified.result;
    let result: Verified;
    try {
      result = { ok: true, payload: await this.deps.validator.verify(token) };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      result = { ok: false, problem: err.message };
    }
    this.verified = { token, result };
    return result;
  }

  private present(s: LicenseState): Omit<LicenseView, "usage"> {
    const p = s.payload;
    const row = s.row;
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      status: s.status,
      enforce: s.enforce,
      client_id: p?.client_id ?? row.client_id,
      tier: p?.tier ?? row.tier,
      features: p ? [...p.features] : [],
      limits: p ? { ...p.limits } : {},
      issued_at: p ? isoOfSeconds(p.iat) : null,
      expires_at: p ? isoOfSeconds(p.exp) : iso(row.expires_at),
      grace_days: p?.grace_days ?? null,
      grace_ends_at: p ? isoOfSeconds(graceEnd(p)) : null,
      days_remaining: p ? daysRemaining(p, this.now()) : null,
      installed_at: iso(row.installed_at),
      problem: s.problem ?? null,
    };
  }

  private logBoot(s: LicenseState): void {
    const p = s.payload;
    const who = `client=${p?.client_id ?? s.row.client_id ?? "?"} tier=${p?.tier ?? s.row.tier ?? "?"}`;
    const fields = { status: s.status, clientId: p?.client_id ?? s.row.client_id, tier: p?.tier ?? s.row.tier };
    const days = p ? daysRemaining(p, this.now()) : 0;
    switch (s.status) {
      case "none":
        this.log.info(fields, "license boot: no license installed - evaluation mode active (v1 tolerant, no service interruption). Upload one via the admin dashboard or POST /v1/admin/license/upload.");
        return;
      case "active":
        this.log.info(fields, `license boot: active, ${who} expires_in=${days}d`);
        return;
      case "warning_j30":
        this.lastWarningAt = this.now();
        this.log.warn(fields, `license boot: warning_j30, ${who} expires_in=${days}d - renew before ${isoOfSeconds(p!.exp)}`);
        return;
      case "grace":
        this.log.error(fields, `license boot: grace, ${who} expired ${-days}d ago - mutations refused from ${isoOfSeconds(graceEnd(p!))} unless renewed`);
        return;
      case "expired":
      case "revoked":
      case "invalid":
        this.log.fatal({ ...fields, severity: "CRITICAL", problem: s.problem }, `CRITICAL license boot: ${s.status}, ${who}${s.problem ? ` (${s.problem})` : ""} - mutations refused; reads, exports and inference keep working`);
        return;
    }
  }
}

function refusal(s: LicenseState): AppError {
  const renew = "Reads, exports and inference keep working; install a valid license with POST /v1/admin/license/upload (or, in an emergency, POST /v1/admin/license/enforce {\"enabled\": false}).";
  switch (s.status) {
    case "revoked":
      return new AppError("license_revoked", `The Cellule-PRO license is revoked: this change is refused. ${renew}`);
    case "invalid":
      return new AppError("license_invalid", `The installed Cellule-PRO license does not verify: this change is refused. ${renew}`);
    // The statuses after "expired" are never refused (callers refuse expired, revoked and invalid
    // only); they are listed so that a new status is a lint error here.
    case "expired":
    case "active":
    case "warning_j30":
    case "grace":
    case "none": {
      const end = s.payload ? isoOfSeconds(s.payload.exp + s.payload.grace_days * DAY_S) : "?";
      return new AppError("license_expired", `The Cellule-PRO license expired (grace period ended ${end}): this change is refused. ${renew}`);
    }
  }
}
