/**
 * First-boot setup for `cellule up` (a single machine): without it the key `up` prints would get
 * 503 `cluster_setup_pending` on its first chat. From `--answers FILE` (the bodies of the setup
 * API, as for `cellule setup apply`; the steps a single machine does not need may be left out), or
 * by asking the few answers on a terminal (company name, sector, admin email and password); when
 * neither is possible, a plain notice says what to do next. Same validation as the wizard.
 */
import { createInterface } from "node:readline/promises";
import { SECTORS } from "../protocol/setup.protocol.js";
import { passwordProblem } from "../pool/admin-users/password-policy.js";
import type { SetupService } from "../pool/setup/setup.service.js";
import { StepInvalid } from "../pool/setup/step-validation.js";
import { fieldMessage } from "../protocol/setup.protocol.js";
import { CliError } from "../shared/errors.js";
import { HiddenLineReader } from "./admin.command.js";
import { readAnswersFile } from "./setup.command.js";

/** The steps a single machine answers the same way every time: one site, one pool, CPU workers, the fast tier, sector defaults. */
export const SINGLE_MACHINE_STEPS = {
  topology: { sites: [{ name: "Main site", pools: 1 }] },
  hardware: { cpu_workers_enabled: true, gpu_servers: 0 },
  models: { tiers: ["fast"] },
  security: {},
} as const;

/** `answers` with the single-machine steps filled in where the file left them out. */
export function singleMachineAnswers(answers: unknown): unknown {
  if (answers === null || typeof answers !== "object" || Array.isArray(answers)) return answers;
  return { ...structuredClone(SINGLE_MACHINE_STEPS), ...(answers as Record<string, unknown>) };
}

export type UpSetupOutcome = { status: "already" } | { status: "completed"; adminEmail: string } | { status: "pending" };

/** The notice printed when setup could not be run here: what the user must do, plainly. */
export function setupNeededNotice(url: string, dataDir: string): string {
  const rule = "=".repeat(72);
  return [
    "",
    rule,
    "SETUP NEEDED: the API answers 503 cluster_setup_pending until first-boot setup is done.",
    `  - open ${url}/setup/ui in a browser (the setup wizard), or`,
    `  - run: cellule setup apply --file answers.json --data-dir ${dataDir}   (while this runs), or`,
    "  - next time: cellule up --answers answers.json ...   (format: docs/setup-answers.example.json)",
    rule,
    "",
  ].join("\n");
}

async function ask(questions: ReturnType<typeof createInterface>, prompt: string, check: (v: string) => string | undefined): Promise<string> {
  for (;;) {
    const value = (await questions.question(prompt)).trim();
    const problem = check(value);
    if (!problem) return value;
    process.stderr.write(`  ${problem}\n`);
  }
}

/** Asks the few answers a single machine needs on the terminal. */
async function askAnswers(): Promise<Record<string, unknown>> {
  process.stderr.write("\nFirst-boot setup (single machine). The rest takes the sector's defaults; change it later in the dashboard.\n");
  const questions = createInterface({ input: process.stdin, output: process.stderr });
  let company: string, sector: string, email: string;
  try {
    company = await ask(questions, "Company name: ", (v) => (v ? undefined : "required"));
    sector = (await ask(questions, `Sector (${SECTORS.join(", ")}) [OTHER]: `, (v) => (!v || SECTORS.includes(v.toUpperCase() as never) ? undefined : "one of the listed sectors"))).toUpperCase() || "OTHER";
    email = await ask(questions, "Admin email: ", (v) => (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) ? undefined : fieldMessage("invalid_email")));
  } finally {
    questions.close();
  }
  const reader = new HiddenLineReader(process.stdin);
  let password: string;
  try {
    for (;;) {
      const first = await reader.prompt(`Admin password for ${email} (12+ characters): `);
      const problem = passwordProblem(first, email);
      if (problem) {
        process.stderr.write(`  ${fieldMessage(problem)}\n`);
        continue;
      }
      if ((await reader.prompt("Confirm password: ")) === first) {
        password = first;
        break;
      }
      process.stderr.write("  The two passwords do not match.\n");
    }
  } finally {
    reader.close();
  }
  return { identity: { company_name: company, sector }, admin: { email, password } };
}

/**
 * Completes setup on the running pool when it is pending: from `answersFile`, else on a terminal,
 * else not at all (`pending`: the caller prints setupNeededNotice).
 */
export async function setupForUp(setup: Pick<SetupService, "isCompleted" | "apply">, answersFile: string | undefined, interactive: boolean): Promise<UpSetupOutcome> {
  if (await setup.isCompleted()) return { status: "already" };
  let answers: unknown;
  if (answersFile) answers = readAnswersFile(answersFile);
  else if (interactive) answers = await askAnswers();
  else return { status: "pending" };
  try {
    const done = await setup.apply(singleMachineAnswers(answers), { actor: "system:cellule-up", via: "cli" });
    return { status: "completed", adminEmail: done.admin_email };
  } catch (err) {
    if (err instanceof StepInvalid) {
      throw new CliError(`the setup answers are invalid:\n${Object.entries(err.fields).map(([f, m]) => `  ${f}: ${m}`).join("\n")}`);
    }
    throw err;
  }
}
