import { describe, expect, it } from "vitest";
import { normalizeText } from "./normalize-text.js";
import { markdownSections } from "./text.extractor.js";
import { decodeText, detectTextEncoding } from "./text-encoding.js";

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));

describe("detectTextEncoding / decodeText", () => {
  it("takes valid UTF-8 as UTF-8, with or without BOM", () => {
    expect(detectTextEncoding(bytes("déjà"), true)).toEqual({ encoding: "utf-8", bomLength: 0 });
    const withBom = bytes([0xef, 0xbb, 0xbf], "déjà");
    const enc = detectTextEncoding(withBom, true)!;
    expect(enc).toEqual({ encoding: "utf-8", bomLength: 3 });
    expect(decodeText(withBom, enc)).toBe("déjà");
  });

  it("falls back to Windows-1252 (Latin-1) when bytes are not UTF-8", () => {
    const latin1 = Buffer.from("Noël à Besançon", "latin1");
    const enc = detectTextEncoding(latin1, true)!;
    expect(enc.encoding).toBe("windows-1252");
    expect(decodeText(latin1, enc)).toBe("Noël à Besançon");
    // The 0x80–0x9F range holds Windows-1252's curly quotes and euro sign.
    expect(decodeText(Buffer.from([0x93, 0x31, 0x30, 0x80, 0x94, 0x92]), detectTextEncoding(Buffer.from([0x93, 0x80]), true)!)).toBe("“10€”’");
  });

  it("does not mistake a UTF-8 character cut at the end of a sample for Latin-1", () => {
    const cut = bytes("prix: 10 ").subarray(0);
    const sample = Buffer.concat([cut, Buffer.from("€").subarray(0, 2)]);
    expect(detectTextEncoding(sample, false)!.encoding).toBe("utf-8");
    expect(detectTextEncoding(sample, true)!.encoding).toBe("windows-1252");
  });

  it("refuses control bytes other than tab, CR, LF and form feed", () => {
    expect(detectTextEncoding(bytes("a\tb\r\nc\fd"), true)).not.toBeNull();
    expect(detectTextEncoding(bytes("a", [0], "b"), true)).toBeNull();
    expect(detectTextEncoding(Buffer.from([0x41, 0x1b, 0x5b, 0xe9]), true)).toBeNull();
  });

  it("reads UTF-16 with a BOM", () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Été", "utf16le")]);
    const enc = detectTextEncoding(le, true)!;
    expect(enc.encoding).toBe("utf-16le");
    expect(decodeText(le, enc)).toBe("Été");
  });
});

describe("normalizeText", () => {
  it("unifies line ends, collapses spaces and blank lines, drops control characters", () => {
    expect(normalizeText("  a\r\nb\t\t c \r\r\r\nd\fe\u0007f  ")).toBe("a\nb c\n\nd\n\nef");
  });
});

describe("markdownSections", () => {
  it("starts a section at each ATX or setext heading, keeping the heading line", () => {
    const md = "Preface.\n\n# One #\n\nText one.\n\nTwo\n---\n\nText two.\n\n### Three\nText three.";
    expect(markdownSections(md)).toEqual([
      { page: null, heading: null, text: "Preface." },
      { page: null, heading: "One", text: "# One #\n\nText one." },
      { page: null, heading: "Two", text: "Two\n---\n\nText two." },
      { page: null, heading: "Three", text: "### Three\nText three." },
    ]);
  });

  it("ignores headings inside fenced code, and list items above a rule", () => {
    const md = "# Real\n\n~~~\n# fake\n~~~\n\n- item\n---\n";
    const sections = markdownSections(md);
    expect(sections.map((s) => s.heading)).toEqual(["Real"]);
    expect(sections[0]!.text).toContain("# fake");
  });
});
