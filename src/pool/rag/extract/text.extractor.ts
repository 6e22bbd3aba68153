/**
 * Plain text and markdown: decoded as UTF-8 (BOM or not), UTF-16 with a BOM, or Windows-1252
 * (Latin-1) when the bytes are not UTF-8. Markdown keeps its headings (ATX `#` and setext
 * underlines, outside fenced code): each heading starts a section and is its first line.
 */
import { readFile } from "node:fs/promises";
import type { Section } from "./extract.js";
import { NO_TEXT, skipped } from "./extract-failure.js";
import { normalizeInline, normalizeText } from "./normalize-text.js";
import { decodeText, detectTextEncoding } from "./text-encoding.js";

export async function extractText(path: string, markdown: boolean): Promise<Section[]> {
  const bytes = await readFile(path);
  const encoding = detectTextEncoding(bytes, true);
  // The first 64 KB looked like text, but control bytes further on mean binary data.
  if (!encoding) throw skipped("unsupported file type (looks like binary data)");
  const text = decodeText(bytes, encoding);
  const sections = markdown ? markdownSections(text) : [{ page: null, heading: null, text: normalizeText(text) }];
  const kept = sections.filter((s) => s.text.length > 0);
  if (kept.length === 0) throw skipped(NO_TEXT);
  return kept;
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Sections of a markdown text, one per heading (plus what comes before the first). */
export function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  let heading: string | null = null;
  let lines: string[] = [];
  let fence: string | null = null;
  const flush = () => {
    const body = normalizeText(lines.join("\n"));
    if (body) sections.push({ page: null, heading, text: body });
    lines = [];
  };
  const start = (title: string, line: string) => {
    flush();
    heading = normalizeInline(title) || null;
    lines.push(line);
  };

  for (const line of text.split(/\r\n?|\n/)) {
    const fenceOpen = FENCE.exec(line);
    if (fence) {
      if (fenceOpen && fenceOpen[1]!.startsWith(fence)) fence = null;
      lines.push(line);
      continue;
    }
    if (fenceOpen) {
      fence = fenceOpen[1]!;
      lines.push(line);
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      start(atx[2] ?? "", line);
      continue;
    }
    // "Title" followed by "===" or "---" (a single-line paragraph: the common case).
    const previous = lines[lines.length - 1];
    const beforePrevious = lines[lines.length - 2];
    if (SETEXT.test(line) && previous?.trim() && !/^\s*([-*+>]|\d+[.)]|\|)/.test(previous) && (beforePrevious === undefined || !beforePrevious.trim())) {
      lines.pop();
      start(previous, `${previous}\n${line}`);
      continue;
    }
    lines.push(line);
  }
  flush();
  return sections;
}
