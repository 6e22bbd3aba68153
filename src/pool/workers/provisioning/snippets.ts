/**
 * The three "Add a worker" files, rendered from the templates next to this file (read from src/,
 * like the SQL migrations, so the build does not need to copy them): config.json (the file
 * `cellule worker --config` reads), an install script and a start script per OS family.
 *
 * Templates: `{{NAME}}` placeholders, and `# @if linux` / `# @if macos` … `# @endif` lines that keep
 * their block only for that OS. Nothing an admin typed is pasted into shell or PowerShell code:
 * it only appears inside config.json (embedded verbatim in a quoted here-document).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { WorkerMobility } from "../../../protocol/migration.protocol.js";
import type { ProvisioningFile, ProvisioningHardware, ProvisioningOs } from "../../../protocol/provisioning.protocol.js";

// dist/pool/workers/provisioning/ and src/pool/workers/provisioning/ both sit four levels down.
export const TEMPLATES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../src/pool/workers/provisioning/templates");

/** Auto mode's model cache, relative to the install directory (the scripts run the worker from there and create it for the service user). */
export const MODEL_CACHE_DIR = "models";

export interface SnippetInput {
  os: ProvisioningOs;
  hardware: ProvisioningHardware;
  /** The single-use enrolment code. */
  code: string;
  poolUrl: string;
  site: string | null;
  /** `on-site` or `mobile` (absent: mobile, not written). */
  mobility?: WorkerMobility | undefined;
  /** A manual setup's GGUF path on the machine; absent: auto mode (the pool assigns the models). */
  modelPath?: string | undefined;
  slots?: number | undefined;
  name?: string | undefined;
  /** An employee's desktop (issue 21): `--desktop` on the start command and in config.json. */
  desktop?: boolean | undefined;
  /** Package version the install script pins. */
  version: string;
}

/** The worker config file (keys of src/config/worker.config.ts plus the token). */
export function workerConfig(input: SnippetInput): Record<string, unknown> {
  return {
    pool: input.poolUrl,
    token: input.code,
    // No path: auto mode (issue 19), the models are downloaded into the install folder's models/.
    ...(input.modelPath ? { model: input.modelPath } : { modelCache: MODEL_CACHE_DIR }),
    slots: input.slots ?? (input.hardware === "gpu" ? 2 : 1),
    gpu: input.hardware === "gpu" ? "auto" : "off",
    ...(input.name ? { name: input.name } : {}),
    ...(input.site ? { site: input.site } : {}),
    ...(input.mobility ? { mobility: input.mobility } : {}),
    ...(input.desktop ? { desktop: true } : {}),
  };
}

export function renderSnippets(input: SnippetInput): ProvisioningFile[] {
  const configJson = JSON.stringify(workerConfig(input), null, 2);
  const windows = input.os === "windows";
  const values: Record<string, string> = {
    CONFIG_JSON: configJson,
    OS: input.os,
    HARDWARE: input.hardware,
    VERSION: input.version,
    POOL_URL: commentSafe(input.poolUrl),
    DESKTOP_FLAG: input.desktop ? " --desktop" : "",
    DESKTOP_PLIST_ARG: input.desktop ? "<string>--desktop</string>" : "",
  };
  const render = (template: string) => fill(sections(readTemplate(template), input.os), values);
  return [
    { name: "config.json", content: configJson + "\n" },
    windows ? { name: "install.ps1", content: crlf(render("install.ps1.tmpl")) } : { name: "install.sh", content: render("install.sh.tmpl") },
    windows ? { name: "start.ps1", content: crlf(render("start.ps1.tmpl")) } : { name: "start.sh", content: render("start.sh.tmpl") },
  ];
}

const cache = new Map<string, string>();
function readTemplate(name: string): string {
  let text = cache.get(name);
  if (text === undefined) cache.set(name, (text = readFileSync(resolve(TEMPLATES_DIR, name), "utf8")));
  return text;
}

/** Keeps `# @if <os>` blocks for this OS only, and drops the marker lines. */
export function sections(template: string, os: string): string {
  const out: string[] = [];
  let keep = true;
  for (const line of template.split("\n")) {
    const start = /^\s*# @if (\w+)\s*$/.exec(line);
    if (start) {
      keep = start[1] === os;
      continue;
    }
    if (/^\s*# @endif\s*$/.test(line)) {
      keep = true;
      continue;
    }
    if (keep) out.push(line);
  }
  return out.join("\n");
}

/** Replaces every `{{NAME}}`; an unknown name is a bug in a template. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`provisioning template placeholder {{${key}}} has no value`);
    return v;
  });
}

/** For a comment line: no line breaks nor control characters. */
const commentSafe = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, "");

/** PowerShell scripts with Windows line endings (Notepad, Intune). */
const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n");
