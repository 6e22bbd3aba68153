/**
 * The entry file of a child process that a module forks (the database host, initdb, document
 * extraction), next to that module: compiled JavaScript under dist/, or the TypeScript source run
 * through tsx when the module itself runs from src/ (vitest, tsx).
 *
 * The test suite builds dist/ before it runs (its end-to-end tests start the built CLI), so it sets
 * CELLULE_CHILDREN_FROM_DIST=1 (vitest.config.ts, only when dist/ is newer than src/): a module run
 * from source then forks the compiled entry instead, which saves tsx's ~1 s of CPU per process.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface ChildEntry {
  path: string;
  execArgv: string[];
}

export function childEntry(moduleUrl: string, baseName: string): ChildEntry {
  if (!moduleUrl.endsWith(".ts")) return { path: fileURLToPath(new URL(`./${baseName}.js`, moduleUrl)), execArgv: [] };
  const source = fileURLToPath(new URL(`./${baseName}.ts`, moduleUrl));
  if (process.env.CELLULE_CHILDREN_FROM_DIST === "1") {
    const at = source.lastIndexOf(`${sep}src${sep}`);
    const compiled = at < 0 ? undefined : `${source.slice(0, at)}${sep}dist${sep}${source.slice(at + 5, -3)}.js`;
    if (compiled && existsSync(compiled)) return { path: compiled, execArgv: [] };
  }
  const tsx = pathToFileURL(createRequire(moduleUrl).resolve("tsx")).href;
  return { path: source, execArgv: ["--import", tsx] };
}
