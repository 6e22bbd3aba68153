/**
 * PDF text with pdf.js (legacy build, the one meant for Node), page by page so every section
 * keeps its page number. pdf.js runs its own "worker" in this same thread here: the whole of
 * this module already runs inside the extraction worker thread.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { TextItem, TextMarkedContent } from "pdfjs-dist/types/src/display/api.js";
import type { Section } from "./extract.js";
import { failed, NO_TEXT, skipped } from "./extract-failure.js";
import { normalizeText } from "./normalize-text.js";

/** Font and character-map data shipped with pdf.js, needed to map some fonts' glyphs to text. */
const pdfjsRoot = dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json"));

export async function extractPdf(path: string): Promise<{ sections: Section[]; pages: number }> {
  const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
  const data = new Uint8Array(await readFile(path));
  const task = pdfjs.getDocument({
    data,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    standardFontDataUrl: join(pdfjsRoot, "standard_fonts") + "/",
    cMapUrl: join(pdfjsRoot, "cmaps") + "/",
    cMapPacked: true,
    wasmUrl: join(pdfjsRoot, "wasm") + "/",
    verbosity: 0,
  });
  let doc;
  try {
    doc = await task.promise;
  } catch (err) {
    await task.destroy().catch(() => undefined);
    throw translate(err);
  }
  try {
    const sections: Section[] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      const text = normalizeText(pageText(content.items));
      if (text) sections.push({ page: n, heading: null, text });
      page.cleanup();
    }
    if (sections.length === 0) throw skipped(NO_TEXT);
    return { sections, pages: doc.numPages };
  } catch (err) {
    throw translate(err);
  } finally {
    await doc.destroy().catch(() => undefined);
  }
}

/**
 * Joins a page's text items: pdf.js marks line ends (hasEOL); a vertical gap of more than about
 * one and a half lines between two lines is taken as a paragraph break.
 */
function pageText(items: (TextItem | TextMarkedContent)[]): string {
  let text = "";
  let lastY: number | null = null;
  let lastHeight = 0;
  let lineStart = true;
  for (const item of items) {
    if (!("str" in item)) continue;
    const y = item.transform[5] as number;
    const height = Math.abs(item.height) || lastHeight;
    if (lineStart && lastY !== null && height > 0 && Math.abs(lastY - y) > 1.6 * Math.max(height, lastHeight)) text += "\n";
    text += item.str;
    if (item.hasEOL) text += "\n";
    lineStart = item.hasEOL;
    if (item.str.trim()) {
      lastY = y;
      lastHeight = height;
    }
  }
  return text;
}

function translate(err: unknown): Error {
  if (err instanceof Error && err.name === "ExtractFailure") return err;
  const name = err instanceof Error ? err.name : "";
  const msg = err instanceof Error ? err.message : String(err);
  if (name === "PasswordException") return failed("the PDF is password-protected");
  return failed(`the PDF file is damaged: ${msg}`);
}
