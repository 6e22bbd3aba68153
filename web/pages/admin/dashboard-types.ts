/**
 * The admin API's shapes as the dashboard reads them (mirrors of the zod contracts in
 * src/protocol/{admin,provisioning,settings,dashboard}.protocol.ts; the web app has its own build).
 */
export interface WorkerSummary {
  id: string;
  name: string;
  connected: boolean;
  revoked: boolean;
  site: string | null;
  hardware_class: string | null;
  hardware?: { cores: number | null; ram_bytes: number | null; gpu: string | null };
  models: string[];
  slots: number | null;
  free_slots: number | null;
  busy_slots: number | null;
  agent_version: string | null;
  last_seen_at: string | null;
  enrolled_at?: string;
}

export interface MetricPoint {
  t: string;
  jobs_completed: number;
  jobs_failed: number;
  tokens: number;
  tokens_per_s: number;
  queue_depth: number;
  slots_busy: number;
}

export interface Overview {
  company: { name: string | null; sector: string | null; has_logo: boolean };
  capacity: {
    workers_enrolled: number;
    workers_connected: number;
    cpu_workers: number;
    gpu_workers: number;
    by_class: Record<string, number>;
    slots_total: number;
    slots_busy: number;
    slots_free: number;
    pools: number;
    sites: number;
  };
  configuration: { declared_headcount: number; model_tiers: string[]; topology_type: "single-site" | "multi-site"; network_type: "lan" | "metro" | "wan" | "unknown" };
  queue_depth: number;
  metrics: { interval_s: number; points: MetricPoint[] };
}

export interface BalancingSite {
  name: string;
  declared_headcount: number;
  workers_enrolled: number;
  workers_connected: number;
  gap: number;
}

export interface Balancing {
  sites: BalancingSite[];
  unassigned_workers: number;
  total_headcount: number;
  queue_per_employee: number;
  effective_queue_size: number;
}

export type Localized = { en: string; fr: string };
export type SettingValue = number | boolean | string;

export interface Setting {
  key: string;
  label: Localized;
  description: Localized;
  type: "integer" | "number" | "boolean" | "enum";
  value: SettingValue;
  default: SettingValue;
  min?: number;
  max?: number;
  options?: string[];
  unit?: string | null;
  recommended: { smb: SettingValue; corporate: SettingValue };
  source: "default" | "env" | "admin";
  updated_at: string | null;
  updated_by: string | null;
}

export interface SettingsResponse {
  profiles: { id: "smb" | "corporate"; label: Localized }[];
  categories: { id: string; label: Localized; settings: Setting[] }[];
}

export interface ProvisioningResult {
  code: string;
  expires_at: string;
  os: "linux" | "macos" | "windows";
  hardware: "cpu" | "gpu";
  pool_url: string;
  files: { name: string; content: string }[];
}
