/**
 * Validation of one wizard step (or of every step for an unattended install): zod for the shape,
 * then the rules zod cannot express (password policy, logo content). Failures are per-field
 * codes: a StepInvalid, the AppError `invalid_step` (400) whose `extra` holds `step`, `fields` and
 * `codes`, rendered by the error handler as `{error: "invalid_step", message, step, fields, codes}`
 * and by the CLI as one line per field.
 */
import type { z } from "zod";
import { AppError } from "../../shared/errors.js";
import { fieldMessage, STEP_SCHEMAS, type AdminStep, type StepName, type StepWarning, type TopologyStep } from "../../protocol/setup.protocol.js";
import { passwordProblem } from "../admin-users/password-policy.js";
import { checkLogo } from "./logo-check.js";

export interface ValidStep {
  step: StepName;
  /** What is stored in cluster_setup_state.answers (no password, no logo bytes). */
  answer: Record<string, unknown>;
  warnings: StepWarning[];
  /** identity: the checked logo; undefined = keep what is stored, null = remove it. */
  logo?: { bytes: Buffer; mime: string } | null;
  /** admin: the password to hash. */
  password?: string;
}

export type FieldCodes = Record<string, string>;

const messagesOf = (codes: FieldCodes): Record<string, string> => Object.fromEntries(Object.entries(codes).map(([k, c]) => [k, fieldMessage(c)]));

export class StepInvalid extends AppError {
  constructor(
    readonly step: StepName | null,
    readonly codes: FieldCodes,
    message?: string,
  ) {
    super("invalid_step", message ?? `Please correct: ${Object.keys(codes).join(", ")}.`, { extra: { step, fields: messagesOf(codes), codes } });
    this.name = "StepInvalid";
  }

  get fields(): Record<string, string> {
    return messagesOf(this.codes);
  }
}

const valueAt = (body: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), body);

/** zod issues → field path → code (the first issue of each field wins). */
export function issueCodes(issues: z.core.$ZodIssue[], body: unknown): FieldCodes {
  const codes: FieldCodes = {};
  const put = (path: readonly PropertyKey[], code: string) => {
    const key = path.map(String).join(".") || "body";
    codes[key] ??= code;
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) put([...issue.path, k], "unknown_field");
      continue;
    }
    // Nothing given (absent, null, blank) reads better as "required" than as a type or choice error.
    const given = valueAt(body, issue.path);
    if (given === undefined || given === null || (typeof given === "string" && given.trim() === "")) {
      put(issue.path, "required");
      continue;
    }
    put(issue.path, fieldMessage(issue.message) !== issue.message ? issue.message : "invalid_value");
  }
  return codes;
}

export function validateStep(step: StepName, body: unknown): ValidStep {
  const parsed = STEP_SCHEMAS[step].safeParse(body);
  if (!parsed.success) {
    const codes = issueCodes(parsed.error.issues, body);
    // Report a weak password together with a bad email, not one after the other.
    const password = step === "admin" ? valueAt(body, ["password"]) : undefined;
    const problem = typeof password === "string" ? passwordProblem(password) : undefined;
    if (problem) codes.password ??= problem;
    throw new StepInvalid(step, codes);
  }
  const warnings: StepWarning[] = [];
  const warn = (field: string, code: string, extra = "") => warnings.push({ field, code, message: fieldMessage(code) + extra });

  switch (step) {
    case "identity": {
      const v = parsed.data as z.infer<(typeof STEP_SCHEMAS)["identity"]>;
      const { logo_base64, ...answer } = v;
      let logo: ValidStep["logo"];
      if (typeof logo_base64 === "string") {
        const c = checkLogo(logo_base64);
        if (!c.ok) throw new StepInvalid(step, { logo_base64: c.code });
        logo = { bytes: c.bytes, mime: c.mime };
        if (c.removed.length > 0) warn("logo_base64", "svg_sanitised", ` (${c.removed.slice(0, 8).join(", ")})`);
      } else if (logo_base64 === null) logo = null;
      return { step, answer: { ...answer, project_template: answer.project_template ?? null }, warnings, logo };
    }
    case "topology": {
      const v = parsed.data as TopologyStep;
      v.sites.forEach((s, i) => {
        if (s.pools < 2) warn(`sites.${i}.pools`, "pool_advice");
      });
      if (v.ha_vip?.enabled) {
        const missing: FieldCodes = {};
        if (!v.ha_vip.address) missing["ha_vip.address"] = "required";
        if (!v.ha_vip.interface) missing["ha_vip.interface"] = "required";
        if (Object.keys(missing).length > 0) throw new StepInvalid(step, missing);
      }
      return { step, answer: v, warnings };
    }
    case "admin": {
      const v = parsed.data as AdminStep;
      const email = v.email.trim().toLowerCase();
      const problem = passwordProblem(v.password, email);
      if (problem) throw new StepInvalid(step, { password: problem });
      return { step, answer: { email }, warnings, password: v.password };
    }
    case "hardware":
    case "models":
    case "security":
      return { step, answer: parsed.data, warnings };
  }
}
