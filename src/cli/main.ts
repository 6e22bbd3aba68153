#!/usr/bin/env node
/** The `cellule` command: one binary, several roles (pool, worker, up, admin tools). */
import { Command } from "commander";
import { VERSION } from "../shared/version.js";

type Register = (program: Command) => unknown;

/**
 * Each top-level command's module, loaded only when that command runs: importing all of them (the
 * pool's server, the worker's llama.cpp bindings) cost ~1 s of CPU before any command could start,
 * so `cellule keys create` took three times its own work. Help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  pool: async () => {
    const [{ registerPoolCommand }, { registerTokensCommand }] = await Promise.all([import("./pool.command.js"), import("./tokens.command.js")]);
    return (program) => registerTokensCommand(registerPoolCommand(program));
  },
  worker: async () => (await import("./worker.command.js")).registerWorkerCommand,
  up: async () => (await import("./up.command.js")).registerUpCommand,
  keys: async () => (await import("./keys.command.js")).registerKeysCommand,
  license: async () => (await import("./license.command.js")).registerLicenseCommand,
  setup: async () => (await import("./setup.command.js")).registerSetupCommand,
  admin: async () => (await import("./admin.command.js")).registerAdminCommand,
  federation: async () => (await import("./federation.command.js")).registerFederationCommand,
  vip: async () => (await import("./vip.command.js")).registerVipCommand,
  entry: async () => (await import("./entry.command.js")).registerEntryCommand,
  backup: async () => (await import("./backup.command.js")).registerBackupCommand,
  restore: async () => (await import("./backup.command.js")).registerRestoreCommand,
  service: async () => (await import("./service.command.js")).registerServiceCommand,
  doctor: async () => (await import("./doctor.command.js")).registerDoctorCommand,
};

const program = new Command("cellule").description("Cellule: a private LLM cluster on the machines you already own").version(VERSION).enablePositionalOptions();
const named = process.argv[2];
const loaders = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
for (const register of await Promise.all(loaders.map((load) => load()))) register(program);

await program.parseAsync(process.argv);
