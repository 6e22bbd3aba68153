import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import * as make from "../../../../test/fixtures/documents.js";
import type { ExtractOutcome } from "./extract.js";

/**
 * The compiled module (dist/, as the pool runs it) must find and start its compiled extraction
 * process, with no TypeScript loader anywhere. `npm test` builds dist/ first.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const COMPILED = join(ROOT, "dist", "pool", "rag", "extract", "extract.js");
const dir = mkdtempSync(join(tmpdir(), "cellule-extract-dist-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function extractWithCompiled(path: string, fileName: string): Promise<ExtractOutcome> {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run npm run build`);
  const script = `const { extractDocument } = await import(${JSON.stringify(pathToFileURL(COMPILED).href)});
process.stdout.write(JSON.stringify(await extractDocument(${JSON.stringify(path)}, { fileName: ${JSON.stringify(fileName)} })));`;
  // A plain node, without vitest's or tsx's loaders.
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: "" } });
  return JSON.parse(stdout) as ExtractOutcome;
}

it("extracts a PDF and a DOCX through the compiled module and process entry", async () => {
  const pdf = await make.pdfWithPages(dir, [["Compiled page one"], ["Compiled page two"]]);
  const pdfOut = await extractWithCompiled(pdf.path, pdf.fileName);
  expect(pdfOut).toMatchObject({ status: "ok", kind: "pdf", pages: 2, sections: [{ page: 1, text: "Compiled page one" }, { page: 2, text: "Compiled page two" }] });

  const docx = await make.docx(dir, [{ heading: "Compiled" }, { paragraph: "Works from dist." }]);
  const docxOut = await extractWithCompiled(docx.path, docx.fileName);
  expect(docxOut).toMatchObject({ status: "ok", kind: "docx", sections: [{ heading: "Compiled", text: "Compiled\n\nWorks from dist." }] });
});
