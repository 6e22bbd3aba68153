/**
 * Worker provisioning ("Add a worker"): the admin picks an OS and a hardware kind and gets a
 * single-use code plus three ready-to-paste files (config.json, install script, start script).
 */
import { z } from "zod";
import { WorkerMobility } from "./migration.protocol.js";
import { SiteName } from "./worker.protocol.js";

export const ProvisioningOs = z.enum(["linux", "macos", "windows"]);
export type ProvisioningOs = z.infer<typeof ProvisioningOs>;
export const ProvisioningHardware = z.enum(["cpu", "gpu"]);
export type ProvisioningHardware = z.infer<typeof ProvisioningHardware>;

export const ProvisioningBody = z.object({
  os: ProvisioningOs,
  /** Omitted: the wizard's hardware answer (GET /v1/admin/provisioning/defaults). */
  hardware: ProvisioningHardware.optional(),
  /** Assigned to the worker at enrolment (wins over the site the worker reports). */
  site: SiteName.nullable().optional(),
  /** `on-site`: the worker never leaves the pools of its site; `mobile` (default): any trusted pool (admin guide §4.2). */
  mobility: WorkerMobility.optional(),
  /** An employee's desktop (issue 21): the worker starts with `--desktop` and takes jobs only while its machine is dormant. */
  desktop: z.boolean().optional(),
  /** A GGUF model path on the worker machine, for a manual setup; absent (the default): auto mode, the pool assigns the models (issue 19). */
  model_path: z.string().trim().min(1).max(1000).optional(),
  slots: z.number().int().min(1).max(64).optional(),
  /** Name shown to admins (default: the machine's hostname). */
  name: z.string().trim().min(1).max(200).optional(),
});
export type ProvisioningBody = z.infer<typeof ProvisioningBody>;

export const ProvisioningFile = z.object({
  name: z.enum(["config.json", "install.sh", "install.ps1", "start.sh", "start.ps1"]),
  content: z.string(),
});
export type ProvisioningFile = z.infer<typeof ProvisioningFile>;

export const ProvisioningResult = z.object({
  code: z.string().describe("single-use enrolment code; shown once"),
  expires_at: z.string(),
  os: ProvisioningOs,
  hardware: ProvisioningHardware,
  pool_url: z.string(),
  files: z.array(ProvisioningFile).length(3),
});
export type ProvisioningResult = z.infer<typeof ProvisioningResult>;
