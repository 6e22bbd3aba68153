/**
 * The wizard's client-side state: what the admin typed, per step, restored from localStorage after
 * an accidental refresh. The admin password is not part of it (it lives only in the admin step's
 * component state), so it can never be persisted.
 */
import type { SetupStateBody } from "../../../src/protocol/setup.protocol.js";
import { safeStorage } from "../../i18n/index.js";

export const STEPS = ["license", "identity", "topology", "hardware", "models", "security", "admin", "recap"] as const;
export type WizardStep = (typeof STEPS)[number];
export type ServerStep = Exclude<WizardStep, "license" | "recap">;

export interface Draft {
  license: { mode: "evaluation" | "licensed" | null; tier?: string | undefined; expires?: string | undefined };
  identity: { company_name: string; sector: string; project_template: string };
  /** `vip`: the "Network → Enable HA virtual pool" choice (absent in a draft saved by an older page). */
  topology: { sites: { name: string; pools: string }[]; vip?: HaVipDraft };
  hardware: { cpu_workers_enabled: boolean; gpu_servers: string; provisioning_hub_url: string };
  models: { tiers: string[] };
  security: { audit_retention_months: string; audit_grade: string };
  admin: { email: string };
}

export interface HaVipDraft {
  enabled: boolean;
  address: string;
  iface: string;
  mode: "preempt" | "no-preempt";
}

export const emptyHaVip = (): HaVipDraft => ({ enabled: false, address: "", iface: "", mode: "preempt" });

/** GET /setup/state (the protocol's SetupStateBody), each saved step read as the object the wizard posted. */
export type ServerState = Omit<SetupStateBody, "steps"> & { steps?: Record<ServerStep, Record<string, unknown> | null> };

export function emptyDraft(): Draft {
  return {
    license: { mode: null },
    identity: { company_name: "", sector: "", project_template: "" },
    topology: { sites: [{ name: "", pools: "2" }], vip: emptyHaVip() },
    hardware: { cpu_workers_enabled: true, gpu_servers: "0", provisioning_hub_url: "" },
    models: { tiers: ["fast"] },
    security: { audit_retention_months: "", audit_grade: "" },
    admin: { email: "" },
  };
}

// eslint-disable-next-line @typescript-eslint/no-base-to-string -- a saved answer: a string, number or boolean
const str = (v: unknown) => (v === null || v === undefined ? "" : String(v));

/** Steps already saved on the server, as a draft (the server is the reference after a refresh). */
export function draftFromServer(state: ServerState): Partial<Draft> {
  const s = state.steps;
  const out: Partial<Draft> = {};
  if (!s) return out;
  if (s.identity) out.identity = { company_name: str(s.identity.company_name), sector: str(s.identity.sector), project_template: str(s.identity.project_template) };
  if (s.topology) {
    const v = s.topology.ha_vip as { enabled?: boolean; address?: string | null; interface?: string | null; mode?: string } | undefined;
    out.topology = {
      sites: ((s.topology.sites as { name: string; pools: number }[]) ?? []).map((x) => ({ name: x.name, pools: String(x.pools) })),
      vip: v ? { enabled: v.enabled === true, address: str(v.address), iface: str(v.interface), mode: v.mode === "no-preempt" ? "no-preempt" : "preempt" } : emptyHaVip(),
    };
  }
  if (s.hardware) out.hardware = { cpu_workers_enabled: Boolean(s.hardware.cpu_workers_enabled), gpu_servers: str(s.hardware.gpu_servers), provisioning_hub_url: str(s.hardware.provisioning_hub_url) };
  if (s.models) out.models = { tiers: (s.models.tiers as string[]) ?? [] };
  if (s.security) out.security = { audit_retention_months: str(s.security.audit_retention_months), audit_grade: str(s.security.audit_grade) };
  if (s.admin) out.admin = { email: str(s.admin.email) };
  return out;
}

const STORAGE_KEY = "cellule.setup.v1";

export interface Saved {
  step: number;
  reached: number;
  draft: Draft;
}

export function loadSaved(): Saved | undefined {
  try {
    const raw = safeStorage()?.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const v = JSON.parse(raw) as Saved;
    return typeof v.step === "number" && v.draft ? v : undefined;
  } catch {
    return undefined;
  }
}

export function persist(saved: Saved): void {
  // Belt and braces: whatever object reaches here, no password field is written.
  const copy = JSON.parse(JSON.stringify(saved)) as Saved & { draft: { admin: Record<string, unknown> } };
  delete copy.draft.admin.password;
  delete copy.draft.admin.confirm;
  safeStorage()?.setItem(STORAGE_KEY, JSON.stringify(copy));
}

export function clearSaved(): void {
  safeStorage()?.removeItem(STORAGE_KEY);
}

/** The body each step posts to /setup/step/{name}. */
export function stepBody(step: ServerStep, d: Draft): Record<string, unknown> {
  switch (step) {
    case "identity":
      return { company_name: d.identity.company_name, sector: d.identity.sector, project_template: d.identity.project_template.trim() || null };
    case "topology": {
      const v = d.topology.vip ?? emptyHaVip();
      const sites = d.topology.sites.map((s) => ({ name: s.name, pools: s.pools.trim() === "" ? null : Number(s.pools) }));
      return { sites, ha_vip: { enabled: v.enabled, address: v.address.trim() || null, interface: v.iface.trim() || null, mode: v.mode } };
    }
    case "hardware":
      return { cpu_workers_enabled: d.hardware.cpu_workers_enabled, gpu_servers: d.hardware.gpu_servers.trim() === "" ? null : Number(d.hardware.gpu_servers), provisioning_hub_url: d.hardware.provisioning_hub_url.trim() || null };
    case "models":
      return { tiers: d.models.tiers };
    case "security": {
      const r = d.security.audit_retention_months;
      return { audit_retention_months: r === "" ? null : r === "unlimited" ? "unlimited" : Number(r), audit_grade: d.security.audit_grade || null };
    }
    case "admin":
      return { email: d.admin.email };
  }
}
