/**
 * Branding and identity after setup (issue 20 must-have 4). The company name and logo are the
 * cluster's: changed here (the logo checked exactly as in the wizard: logo-check.ts), audited, and
 * recorded as a `setup.identity` envelope (last writer wins by HLC on every trusted pool). The
 * pool's human name is this pool's: set by an admin, or from POOL_NAME at boot when no admin set
 * one (the dashboard's name wins; clearing it falls back to POOL_NAME), audited, and recorded as a
 * `pool.name` envelope signed by this pool, so its peers show it (pool_names).
 */
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { IdentityView, ProvisioningDefaults, UpdateIdentityBody } from "../../protocol/branding.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import { checkLogo } from "../setup/logo-check.js";
import type { BrandingRepository } from "./branding.repository.js";

export interface BrandingDeps {
  repo: BrandingRepository;
  audit: Pick<AuditService, "record">;
  atomId: string;
  /** POOL_NAME / CELLULE_POOL_NAME (config `poolName`), or undefined. */
  bootName?: string | undefined;
}

/** A changed identity, for the dashboards that show it (header, federation page). */
export type BrandingListener = (view: IdentityView) => void;

export class BrandingService {
  private readonly log: Logger = moduleLogger("branding");
  /** Set by replication: the company identity and this pool's name go to the trusted peers. */
  replication?: Pick<Replicator, "record"> | undefined;

  constructor(private readonly deps: BrandingDeps) {}

  async view(): Promise<IdentityView> {
    const { repo, atomId } = this.deps;
    const [company, own, peers] = await Promise.all([repo.company(), repo.poolName(atomId), repo.peerNames(atomId)]);
    return {
      company_name: company?.company_name ?? null,
      logo: company?.logo_mime ? { mime: company.logo_mime, bytes: company.logo_bytes ?? 0 } : null,
      pool: { atom_id: atomId, name: own?.name ?? null, source: own?.name ? (own.source === "peer" ? null : own.source) : null },
      peers,
      model_tiers: company?.model_tiers ?? [],
    };
  }

  /** This pool's name, or null. */
  async poolName(): Promise<string | null> {
    return (await this.deps.repo.poolName(this.deps.atomId))?.name ?? null;
  }

  /**
   * At boot: POOL_NAME names the pool when no admin named it in the dashboard (an env name that
   * changed between boots is updated). Recorded for the peers by the access sweep.
   */
  async applyBootName(): Promise<void> {
    const env = this.deps.bootName?.trim() || undefined;
    if (!env) return;
    const own = await this.deps.repo.poolName(this.deps.atomId);
    if (own?.source === "dashboard" && own.name !== null) return;
    if (own?.source === "env" && own.name === env) return;
    await this.deps.repo.setOwnName(this.deps.atomId, env, "env", "system:POOL_NAME");
    await this.deps.audit.record({ actor: "system", action: "branding.pool_name", target: `pool:${this.deps.atomId}`, details: { name: env, source: "env", previous: own?.name ?? null } });
    this.log.info({ poolName: env }, "pool name set from POOL_NAME");
  }

  /** Changes what the body names; every change audited and replicated. 400 `invalid_logo` with the wizard's code. */
  async update(body: UpdateIdentityBody, actor: string): Promise<IdentityView> {
    const { repo, atomId } = this.deps;
    let logo: { bytes: Buffer; mime: string } | null | undefined;
    let removed: string[] = [];
    if (typeof body.logo === "string") {
      // The wizard's step schema refuses more than 1,000,000 characters as logo_too_large too.
      const c = body.logo.length > 1_000_000 ? ({ ok: false, code: "logo_too_large", detail: `${body.logo.length} characters of base64` } as const) : checkLogo(body.logo);
      if (!c.ok) throw new AppError("invalid_logo", `The logo was refused (${c.code}${c.detail ? `: ${c.detail}` : ""}); the wizard's rules apply: PNG, JPEG or SVG, at most 500 KB.`, { param: "logo", extra: { codes: { logo: c.code } } });
      logo = { bytes: c.bytes, mime: c.mime };
      removed = c.removed;
    } else if (body.logo === null) logo = null;

    const companyChanged = body.company_name !== undefined || logo !== undefined;
    if (companyChanged) {
      const before = await repo.company();
      if (!(await repo.setCompany({ companyName: body.company_name, logo }))) throw new AppError("cluster_setup_pending", "Setup has not started on this pool.");
      await this.deps.audit.record({
        actor,
        action: "branding.company",
        target: "company",
        details: {
          ...(body.company_name !== undefined ? { company_name: body.company_name, previous: before?.company_name ?? null } : {}),
          ...(logo !== undefined ? { logo: logo && { mime: logo.mime, bytes: logo.bytes.length, ...(removed.length ? { svg_removed: removed.slice(0, 8) } : {}) } } : {}),
        },
      });
      const p = await repo.identityPayload();
      if (p) await this.replication?.record("setup.identity", { company_name: p.company_name, logo: p.logo ? p.logo.toString("base64") : null, logo_mime: p.logo_mime });
    }

    if (body.pool_name !== undefined) {
      const own = await repo.poolName(atomId);
      // Cleared in the dashboard: POOL_NAME (when set) names the pool again.
      const env = this.deps.bootName?.trim() || undefined;
      const [name, source] = body.pool_name === null ? [env ?? null, env ? ("env" as const) : ("dashboard" as const)] : [body.pool_name, "dashboard" as const];
      if (own?.name !== name || own.source !== source) {
        await repo.setOwnName(atomId, name, source, actor);
        await this.deps.audit.record({ actor, action: "branding.pool_name", target: `pool:${atomId}`, details: { name, source, previous: own?.name ?? null } });
        await this.replication?.record("pool.name", { atom_id: atomId, name });
      }
    }
    return this.view();
  }

  /** The "Add a worker" dialog's defaults from the wizard's hardware step (must-have 6). */
  async provisioningDefaults(): Promise<ProvisioningDefaults> {
    const hw = await this.deps.repo.hardwareAnswer();
    if (!hw) return { hardware: "cpu", slots: 1, source: "builtin", hub_url: null };
    // GPU servers declared and no office CPU workers: a new worker is a GPU server. Otherwise the
    // many idle office computers are the usual case.
    const gpu = hw.gpu_servers > 0 && !hw.cpu_workers_enabled;
    return { hardware: gpu ? "gpu" : "cpu", slots: gpu ? 2 : 1, source: "wizard", hub_url: hw.provisioning_hub_url ?? null };
  }
}
