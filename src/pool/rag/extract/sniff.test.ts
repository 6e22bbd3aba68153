import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as make from "../../../../test/fixtures/documents.js";
import { sniffFile } from "./extract.js";

const dir = mkdtempSync(join(tmpdir(), "cellule-sniff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const unsupported = (looksLike: string) => `unsupported file type (looks like ${looksLike})`;

/** The reason of a file that is not a supported document (fails the test otherwise). */
async function reasonFor(path: string): Promise<string> {
  const result = await sniffFile(path);
  if (result.kind !== null) throw new Error(`expected an unsupported file, got ${result.kind}`);
  return result.reason;
}

describe("sniffFile: by content, not by name", () => {
  it("recognises the supported kinds, whatever their names say", async () => {
    expect(await sniffFile((await make.pdfWithPages(dir, [["x"]], "pdf.docx")).path)).toEqual({ kind: "pdf", mimeType: "application/pdf" });
    expect(await sniffFile((await make.docx(dir, [{ paragraph: "x" }], "docx.pdf")).path)).toEqual({
      kind: "docx",
      mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    });
    expect(await sniffFile((await make.odt(dir, [{ paragraph: "x" }], "odt.txt")).path)).toEqual({ kind: "odt", mimeType: "application/vnd.oasis.opendocument.text" });
    expect(await sniffFile((await make.latin1Text(dir, "Très bien", "latin1.bin")).path)).toEqual({ kind: "text", mimeType: "text/plain" });
  });

  it("accepts a PDF header after leading junk, but not a text that mentions %PDF-", async () => {
    expect((await sniffFile(file("junk.pdf", Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from("%PDF-1.4\n")])))).kind).toBe("pdf");
    expect((await sniffFile(file("about.txt", "How to spot a PDF: it starts with %PDF-1.7.\n")))).toEqual({ kind: "text", mimeType: "text/plain" });
  });

  it("tells markdown from text by name, or by headings in the content", async () => {
    expect(await sniffFile(file("plain.md", "no heading at all"))).toEqual({ kind: "markdown", mimeType: "text/markdown" });
    expect(await sniffFile(file("notes.txt", "Intro\n\n## Section\n\nBody"))).toEqual({ kind: "markdown", mimeType: "text/markdown" });
    expect(await sniffFile(file("setext.txt", "Title\n=====\n\nBody"))).toEqual({ kind: "markdown", mimeType: "text/markdown" });
    expect(await sniffFile(file("plain.txt", "Just a letter.\n#hashtag is not a heading"))).toEqual({ kind: "text", mimeType: "text/plain" });
    // The upload's name counts, not the stored file's.
    expect(await sniffFile(file("stored-abc123", "no heading"), "Readme.MARKDOWN")).toEqual({ kind: "markdown", mimeType: "text/markdown" });
    // A script's comments are not headings.
    expect(await sniffFile(file("run.sh", "#!/bin/sh\n# Install\necho hi\n"))).toEqual({ kind: "text", mimeType: "text/plain" });
  });

  it("reads UTF-8 with a BOM and UTF-16 with a BOM as text", async () => {
    expect((await sniffFile(file("bom8.txt", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("déjà vu")])))).kind).toBe("text");
    expect((await sniffFile(file("bom16.txt", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Notepad \u00e9t\u00e9", "utf16le")])))).kind).toBe("text");
  });

  it("keeps a text starting with MZ as text (binary signatures only apply to binary data)", async () => {
    expect((await sniffFile(file("mz.txt", "MZ Holdings annual report\n"))).kind).toBe("text");
  });
});

describe("sniffFile: unsupported and damaged files", () => {
  it("names executables", async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56)]);
    expect(await sniffFile(file("elf.pdf", elf))).toEqual({ kind: null, mimeType: "application/x-executable", reason: unsupported("an ELF executable") });
    const pe = Buffer.concat([Buffer.from("MZ"), Buffer.from([0x90, 0, 3, 0, 0, 0, 4, 0])]);
    expect(await reasonFor(file("setup.pdf", pe))).toBe(unsupported("a PE executable"));
    expect(await reasonFor((await make.executableAsPdf(dir)).path)).toMatch(/^unsupported file type \(looks like an? (ELF|PE|Mach-O) executable/);
  });

  it("names other common binaries, and says binary data otherwise", async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(await sniffFile(file("photo.pdf", png))).toEqual({ kind: null, mimeType: "image/png", reason: unsupported("a PNG image") });
    expect(await reasonFor(file("old.doc", Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])))).toBe(
      unsupported("an old Office document (.doc, .xls); save it as DOCX or ODT"),
    );
    expect(await reasonFor(file("letter.rtf", "{\\rtf1\\ansi Hello}"))).toBe(unsupported("an RTF document; save it as DOCX or ODT"));
    expect(await sniffFile(file("blob.bin", Buffer.from([1, 2, 3, 0, 0, 255, 254, 7])))).toEqual({
      kind: null,
      mimeType: "application/octet-stream",
      reason: unsupported("binary data"),
    });
  });

  it("fails a password-protected Office file (an OLE2 container with an EncryptedPackage stream)", async () => {
    // The directory entry's name sits well past the first read, as in real files.
    const ole = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(1024 * 1024 + 3), Buffer.from("EncryptedPackage", "utf16le"), Buffer.alloc(64)]);
    expect(await sniffFile(file("locked.docx", ole))).toEqual({
      kind: null,
      mimeType: "application/x-ole-storage",
      reason: "the document is password-protected (an encrypted Office file)",
      failed: true,
    });
  });

  it("looks inside ZIP archives that are not DOCX or ODT", async () => {
    const xlsx = await make.zipArchive(dir, "book.docx", [["[Content_Types].xml", "<Types/>"], ["xl/workbook.xml", "<workbook/>"]]);
    expect(await reasonFor(xlsx.path)).toBe(unsupported("an Excel workbook"));
    const ods = await make.zipArchive(dir, "sheet.odt", [["mimetype", "application/vnd.oasis.opendocument.spreadsheet", false], ["content.xml", "<x/>"]]);
    expect(await sniffFile(ods.path)).toEqual({ kind: null, mimeType: "application/vnd.oasis.opendocument.spreadsheet", reason: unsupported("an OpenDocument spreadsheet") });
    const plain = await make.zipArchive(dir, "photos.docx", [["a.jpg", "x"]]);
    expect(await sniffFile(plain.path)).toEqual({ kind: null, mimeType: "application/zip", reason: unsupported("a ZIP archive") });
  });

  it("fails a damaged archive and a zip bomb (named for what it claims to be)", async () => {
    const damaged = await sniffFile(file("broken.docx", Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 7)])));
    expect(damaged).toMatchObject({ kind: null, failed: true, mimeType: "application/zip" });
    if (damaged.kind === null) expect(damaged.reason).toMatch(/^the ZIP file is damaged: /);
    const bomb = await sniffFile((await make.docxZipBomb(dir)).path);
    expect(bomb).toMatchObject({ kind: null, failed: true, mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" });
    if (bomb.kind === null) expect(bomb.reason).toMatch(/\(possible zip bomb\)$/);
  });

  it("reports an empty or unreadable file without throwing", async () => {
    expect(await sniffFile(file("empty", ""))).toEqual({ kind: null, mimeType: null, reason: "the file is empty" });
    const missing = await sniffFile(join(dir, "missing"));
    expect(missing).toMatchObject({ kind: null, mimeType: null, failed: true });
  });
});
