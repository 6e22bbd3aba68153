/**
 * Whitespace clean-up shared by the extractors, so the chunker sees one convention: "\n" ends a
 * line, a blank line ends a paragraph, no run of spaces, no control characters, NFC.
 */

/** Control characters other than tab and newline (form feed is a paragraph break, handled first). */
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f\ufffe\uffff]/g;
const LINE_END = /\r\n|[\r\n\u2028]/;

/**
 * A block of text (a page, a file): lines kept, paragraphs separated by one blank line. Works line
 * by line, so a 50 MB text costs a few copies of itself, not a regex engine's worth of parts.
 */
export function normalizeText(text: string): string {
  const out: string[] = [];
  let blank = true; // no blank line at the start
  for (const raw of text.split(LINE_END)) {
    // A form feed (page break) or paragraph separator inside a line splits it into paragraphs.
    const parts = raw.split(/[\f\u2029]/);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && !blank) {
        out.push("");
        blank = true;
      }
      const line = normalizeInline(parts[i]!);
      if (line) {
        out.push(line);
        blank = false;
      } else if (!blank) {
        out.push("");
        blank = true;
      }
    }
  }
  if (blank && out.length > 0) out.pop();
  return out.join("\n");
}

/** Length of the slices a very long line is cleaned in. */
const SLICE = 64 * 1024;

/** One line, paragraph or heading: every run of whitespace becomes one space. */
export function normalizeInline(text: string): string {
  if (text.length <= SLICE) return collapse(text).trim().normalize("NFC");
  // A global replace over one huge line (a 50 MB file without line breaks) keeps every match
  // alive at once: hundreds of MB. Slice by slice, cut where a whitespace run starts, it does not.
  const slices: string[] = [];
  let start = 0;
  while (start < text.length) {
    let cut = Math.min(start + SLICE, text.length);
    while (cut < text.length && !(isSpace(text.charCodeAt(cut)) && !isSpace(text.charCodeAt(cut - 1)))) cut++;
    slices.push(collapse(text.slice(start, cut)));
    start = cut;
  }
  return slices.join("").trim().normalize("NFC");
}

/**
 * split + join rather than replace: V8 may return a global replace's result as a tree of its
 * parts (about 45 bytes per match), where join always builds one flat string.
 */
function collapse(text: string): string {
  return text.split(CONTROL).join("").split(/\s+/).join(" ");
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
