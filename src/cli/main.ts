#!/usr/bin/env node
/** The `cellule` command: one binary, several roles (pool, worker, up, admin tools). */
import { Command } from "commander";
import { VERSION } from "../shared/version.js";
import { registerAdminCommand } from "./admin.command.js";
import { registerFederationCommand } from "./federation.command.js";
import { registerKeysCommand } from "./keys.command.js";
import { registerLicenseCommand } from "./license.command.js";
import { registerPoolCommand } from "./pool.command.js";
import { registerSetupCommand } from "./setup.command.js";
import { registerTokensCommand } from "./tokens.command.js";
import { registerUpCommand } from "./up.command.js";
import { registerWorkerCommand } from "./worker.command.js";

const program = new Command("cellule").description("Cellule: a private LLM cluster on the machines you already own").version(VERSION).enablePositionalOptions();
registerTokensCommand(registerPoolCommand(program));
registerWorkerCommand(program);
registerUpCommand(program);
registerKeysCommand(program);
registerLicenseCommand(program);
registerSetupCommand(program);
registerAdminCommand(program);
registerFederationCommand(program);

await program.parseAsync(process.argv);
