/**
 * "Add a worker": a single-use provisioning code (an enrolment token, at most 24 h, optionally
 * tied to a site) and the three files that install and start a worker with it.
 */
import type { ProvisioningBody, ProvisioningHardware, ProvisioningResult } from "../../../protocol/provisioning.protocol.js";
import { VERSION } from "../../../shared/version.js";
import type { EnrolmentService } from "../enrolment.service.js";
import { renderSnippets } from "./snippets.js";

/** A provisioning code never lives longer than this, whatever CELLULE_TOKEN_TTL_HOURS says. */
export const PROVISIONING_CODE_MAX_HOURS = 24;

export class ProvisioningService {
  constructor(private readonly deps: { enrolment: EnrolmentService; version?: string; defaults?: (() => Promise<{ hardware: ProvisioningHardware }>) | undefined }) {}

  /** A body without `hardware` takes the wizard's answer (issue 20 must-have 6), else `cpu`. */
  async create(input: ProvisioningBody, poolUrl: string, actor: string): Promise<ProvisioningResult> {
    const body = { ...input, hardware: input.hardware ?? (this.deps.defaults ? (await this.deps.defaults()).hardware : "cpu") };
    const site = body.site ?? null;
    const t = await this.deps.enrolment.createToken(`provisioning: ${body.os}/${body.hardware}${body.name ? ` ${body.name}` : ""}`, actor, {
      site,
      mobility: body.mobility,
      kind: body.desktop ? "desktop" : undefined,
      ttlHours: PROVISIONING_CODE_MAX_HOURS,
      // Never the code itself: its id (the non-secret part) is the audit target.
      audit: { action: "worker.provisioning_code", details: { os: body.os, hardware: body.hardware, pool_url: poolUrl, ...(body.name ? { name: body.name } : {}), ...(body.desktop ? { desktop: true } : {}) } },
    });
    const files = renderSnippets({
      os: body.os,
      hardware: body.hardware,
      code: t.token,
      poolUrl,
      site,
      mobility: body.mobility,
      desktop: body.desktop,
      modelPath: body.model_path,
      slots: body.slots,
      name: body.name,
      version: this.deps.version ?? VERSION,
    });
    return { code: t.token, expires_at: t.expiresAt.toISOString(), os: body.os, hardware: body.hardware, pool_url: poolUrl, files };
  }
}
