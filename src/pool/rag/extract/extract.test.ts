import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as make from "../../../../test/fixtures/documents.js";
import { childPids, waitFor } from "../../../../test/helpers.js";
import { extractDocument, extractDocumentStream, type ExtractOutcome } from "./extract.js";

/** Every case goes through extractDocument, so through the real worker thread. */
const dir = mkdtempSync(join(tmpdir(), "cellule-extract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ok(outcome: ExtractOutcome): Extract<ExtractOutcome, { status: "ok" }> {
  if (outcome.status !== "ok") throw new Error(`expected ok, got ${outcome.status}: ${outcome.reason}`);
  return outcome;
}

describe("extractDocument: documents with text", () => {
  it("reads a PDF page by page, keeping page numbers and accents", async () => {
    const doc = await make.pdfWithPages(dir, [
      ["Master services agreement", "Clause de résiliation: préavis de trois mois."],
      ["Schedule A: fees and payment terms"],
      [],
      ["Schedule B: data protection"],
    ]);
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("pdf");
    expect(out.mimeType).toBe("application/pdf");
    expect(out.pages).toBe(4);
    // The blank third page gives no section; the others keep their own number.
    expect(out.sections.map((s) => s.page)).toEqual([1, 2, 4]);
    expect(out.sections[0]!.text).toBe("Master services agreement\nClause de résiliation: préavis de trois mois.");
    expect(out.sections[1]!.text).toContain("Schedule A: fees and payment terms");
    expect(out.sections[2]!.text).toContain("Schedule B");
    expect(out.sections.every((s) => s.heading === null)).toBe(true);
  });

  it("reads a DOCX, keeping Title and Heading styles as section headings", async () => {
    const doc = await make.docx(dir, [
      { title: "Share purchase agreement" },
      { paragraph: "Between Dupont & Fils <SARL> and Acme Ltd." },
      { heading: "1. Definitions" },
      { paragraph: "\"Closing\" means the completion of the sale." },
      { heading: "1.1 Interpretation", level: 2 },
      { paragraph: "Headings are for convenience only." },
    ]);
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("docx");
    expect(out.mimeType).toBe("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    expect(out.pages).toBeNull();
    expect(out.sections).toEqual([
      { page: null, heading: "Share purchase agreement", text: "Share purchase agreement\n\nBetween Dupont & Fils <SARL> and Acme Ltd." },
      { page: null, heading: "1. Definitions", text: "1. Definitions\n\n\"Closing\" means the completion of the sale." },
      { page: null, heading: "1.1 Interpretation", text: "1.1 Interpretation\n\nHeadings are for convenience only." },
    ]);
  });

  it("reads an ODT, keeping text:h headings and text:s spaces", async () => {
    const doc = await make.odt(dir, [
      { paragraph: "Preamble before any heading." },
      { heading: "Article 1 — Objet" },
      { paragraph: "Le bailleur loue au preneur  les locaux." },
      { heading: "Article 2", level: 2 },
      { paragraph: "Durée: neuf ans." },
    ]);
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("odt");
    expect(out.mimeType).toBe("application/vnd.oasis.opendocument.text");
    expect(out.sections).toEqual([
      { page: null, heading: null, text: "Preamble before any heading." },
      { page: null, heading: "Article 1 — Objet", text: "Article 1 — Objet\n\nLe bailleur loue au preneur les locaux." },
      { page: null, heading: "Article 2", text: "Article 2\n\nDurée: neuf ans." },
    ]);
  });

  it("reads markdown, one section per heading, code fences left alone", async () => {
    const doc = await make.markdown(dir, "Intro line.\n\n# Payment terms\n\nNet 30.\n\n```sh\n# not a heading\n```\n\nSetext title\n============\n\nBody.\n");
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("markdown");
    expect(out.mimeType).toBe("text/markdown");
    expect(out.sections.map((s) => s.heading)).toEqual([null, "Payment terms", "Setext title"]);
    expect(out.sections[1]!.text).toBe("# Payment terms\n\nNet 30.\n\n```sh\n# not a heading\n```");
  });

  it("reads Latin-1 text as Latin-1 (bytes that are not UTF-8)", async () => {
    const doc = await make.latin1Text(dir, "Cher Maître,\r\nVeuillez trouver ci-joint l'acte signé à Besançon.\r\n\r\nCordialement,\tÉlodie");
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("text");
    expect(out.mimeType).toBe("text/plain");
    expect(out.sections).toEqual([{ page: null, heading: null, text: "Cher Maître,\nVeuillez trouver ci-joint l'acte signé à Besançon.\n\nCordialement, Élodie" }]);
  });

  it("reads UTF-8 with a byte-order mark and drops the mark", async () => {
    const doc = await make.utf8Text(dir, "Übersicht — 合同 ✓", { bom: true, fileName: "bom.txt" });
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.sections[0]!.text).toBe("Übersicht — 合同 ✓");
  });

  it("decides the type by content: a PDF named .txt is still a PDF", async () => {
    const doc = await make.pdfWithPages(dir, [["Renamed"]], "really-a-pdf.txt");
    const out = ok(await extractDocument(doc.path, { fileName: doc.fileName }));
    expect(out.kind).toBe("pdf");
  });
});

describe("extractDocument: bad files", () => {
  it("fails a corrupt PDF as damaged", async () => {
    const doc = await make.corruptPdf(dir);
    const out = await extractDocument(doc.path, { fileName: doc.fileName });
    expect(out.status).toBe("failed");
    if (out.status === "failed") expect(out.reason).toMatch(/^the PDF file is damaged: \S/);
  });

  it("fails a password-protected PDF with that reason", async () => {
    const doc = await make.encryptedPdf(dir);
    expect(await extractDocument(doc.path, { fileName: doc.fileName })).toEqual({ status: "failed", mimeType: "application/pdf", reason: "the PDF is password-protected" });
  });

  it("skips a PDF without text", async () => {
    const doc = await make.emptyPdf(dir);
    expect(await extractDocument(doc.path, { fileName: doc.fileName })).toEqual({
      status: "skipped",
      mimeType: "application/pdf",
      reason: "no text could be extracted (scanned images?)",
    });
  });

  it("refuses a DOCX zip bomb from its declared sizes, without inflating it", async () => {
    const doc = await make.docxZipBomb(dir);
    const started = Date.now();
    const out = await extractDocument(doc.path, { fileName: doc.fileName });
    expect(out.status).toBe("failed");
    if (out.status === "failed") {
      expect(out.reason).toMatch(/^archive expands to more than .+ \(possible zip bomb\)$/);
      expect(out.mimeType).toBe("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("stops a DOCX zip bomb that lies about its size while inflating it", async () => {
    const doc = await make.docxZipBomb(dir, { lieAboutSize: true });
    const out = await extractDocument(doc.path, { fileName: doc.fileName });
    expect(out).toEqual({
      status: "failed",
      mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      reason: "archive expands to more than it declares (possible zip bomb)",
    });
  });

  it("skips an executable renamed .pdf, saying what it looks like", async () => {
    const doc = await make.executableAsPdf(dir);
    const out = await extractDocument(doc.path, { fileName: doc.fileName });
    expect(out.status).toBe("skipped");
    if (out.status === "skipped") expect(out.reason).toMatch(/^unsupported file type \(looks like an? (ELF|PE|Mach-O) executable/);
  });

  it("skips an empty file and fails a missing one, without throwing", async () => {
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    expect(await extractDocument(empty)).toEqual({ status: "skipped", mimeType: null, reason: "the file is empty" });
    const missing = await extractDocument(join(dir, "nope.pdf"));
    expect(missing.status).toBe("failed");
    if (missing.status === "failed") expect(missing.reason).toBe("the file could not be read: ENOENT");
  });
});

describe("extractDocument: the extraction process's limits", () => {
  it("kills an extraction that passes its deadline", async () => {
    const doc = await make.pdfWithPages(dir, [["slow"]], "deadline.pdf");
    const out = await extractDocument(doc.path, { timeoutMs: 5 });
    expect(out).toEqual({ status: "failed", mimeType: null, reason: "extraction took longer than 5 ms (timed out)" });
  });

  it("gives up when its signal aborts", async () => {
    const doc = await make.pdfWithPages(dir, [["aborted"]], "abort.pdf");
    const controller = new AbortController();
    const pending = extractDocument(doc.path, { signal: controller.signal });
    controller.abort();
    expect(await pending).toEqual({ status: "failed", mimeType: null, reason: "extraction was cancelled" });
  });

  describe("memory", () => {
    // 10 MB of one-letter lines: split into 5 million strings, far more than the small limits
    // below, and reached within a second (40 MB of long lines took ~5 s of CPU to get there).
    const huge = join(dir, "huge.txt");
    writeFileSync(huge, "a\n".repeat(5_000_000));

    it("fails, without harming the caller, when the process exhausts its heap", async () => {
      const out = await extractDocument(huge, { heapLimitMb: 16 });
      expect(out).toEqual({ status: "failed", mimeType: null, reason: "extraction needed more than 16 MB of memory" });
      // This process is fine and the next extraction works.
      const after = await extractDocument((await make.utf8Text(dir, "still alive", { fileName: "after.txt" })).path);
      expect(after.status).toBe("ok");
    });

    it("kills the process when its resident memory passes the limit", async () => {
      const out = await extractDocument(huge, { rssLimitMb: 120, heapLimitMb: 2048 });
      expect(out).toEqual({ status: "failed", mimeType: null, reason: "extraction needed more than 120 MB of memory" });
    });
  });
});

describe("extractDocumentStream: a large document in pieces", () => {
  // ~6 MB of Markdown: six pieces of ~1 MB from the extraction process.
  const big = join(dir, "big.md");
  const paragraph = (i: number) => `## Part ${i}\n\n${"The tenant pays the rent on the first day of each month. ".repeat(40)}\n\n`;
  writeFileSync(big, Array.from({ length: 2600 }, (_, i) => paragraph(i)).join(""));

  it("hands over every section, a piece at a time, and the process ends with the reading", async () => {
    const out = await extractDocumentStream(big, { fileName: "big.md" });
    if (out.status !== "ok") throw new Error(out.reason);
    expect(out.kind).toBe("markdown");
    let chars = 0;
    let headings = 0;
    const seenChildren = new Set<number>();
    let read = 0;
    for await (const s of out.sections) {
      chars += s.text.length;
      if (s.heading?.startsWith("Part ")) headings++;
      // Every 100th section (26 looks over the whole reading): each look reads all of /proc.
      if (read++ % 100 === 0) for (const pid of childPids(process.pid)) seenChildren.add(pid);
    }
    expect(headings).toBe(2600);
    expect(chars).toBeGreaterThan(5_000_000);
    expect(seenChildren.size).toBeGreaterThan(0); // the process was alive while pieces were read
    await waitFor(() => [...seenChildren].every((pid) => !childPids(process.pid).includes(pid)), "the extraction process to end", 5000);
  });

  it("ends the process when the reader stops early, and gives the same text as extractDocument", async () => {
    const out = await extractDocumentStream(big, { fileName: "big.md" });
    if (out.status !== "ok") throw new Error(out.reason);
    const before = childPids(process.pid);
    expect(before.length).toBeGreaterThan(0);
    for await (const s of out.sections) {
      expect(s.heading).toBe("Part 0");
      break;
    }
    await waitFor(() => before.every((pid) => !childPids(process.pid).includes(pid)), "the abandoned extraction process to be killed", 5000);
    const whole = ok(await extractDocument(big, { fileName: "big.md" }));
    expect(whole.sections.filter((s) => s.heading?.startsWith("Part ")).length).toBe(2600);
  });
});
