/**
 * One extraction, start to end, inside the worker thread: sniff, pick the extractor, turn every
 * failure into an outcome with a reason. Never throws.
 */
import type { ExtractOutcome, ExtractRequest } from "./extract.js";
import { ExtractFailure } from "./extract-failure.js";
import { extractDocx } from "./docx.extractor.js";
import { extractOdt } from "./odt.extractor.js";
import { extractPdf } from "./pdf.extractor.js";
import { sniffFile } from "./sniff.js";
import { extractText } from "./text.extractor.js";

export async function runExtraction(request: ExtractRequest): Promise<ExtractOutcome> {
  const sniffed = await sniffFile(request.path, request.fileName ?? request.path);
  if (sniffed.kind === null) {
    return { status: sniffed.failed ? "failed" : "skipped", mimeType: sniffed.mimeType, reason: sniffed.reason };
  }
  const { kind, mimeType } = sniffed;
  try {
    switch (kind) {
      case "pdf": {
        const { sections, pages } = await extractPdf(request.path);
        return { status: "ok", kind, mimeType, sections, pages };
      }
      case "docx":
        return { status: "ok", kind, mimeType, sections: await extractDocx(request.path), pages: null };
      case "odt":
        return { status: "ok", kind, mimeType, sections: await extractOdt(request.path), pages: null };
      case "markdown":
      case "text":
        return { status: "ok", kind, mimeType, sections: await extractText(request.path, kind === "markdown"), pages: null };
    }
  } catch (err) {
    if (err instanceof ExtractFailure) return { status: err.status, mimeType, reason: err.message };
    return { status: "failed", mimeType, reason: `the ${kind.toUpperCase()} file could not be read: ${err instanceof Error ? err.message : String(err)}` };
  }
}
