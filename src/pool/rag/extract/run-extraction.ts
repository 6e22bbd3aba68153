/**
 * One extraction, start to end, inside the extraction process: sniff, pick the extractor, turn every
 * failure into an outcome with a reason. Never throws. Each extractor is loaded only for its own
 * kind: the process extracts one file, and the DOCX one alone (mammoth) costs more CPU to load than
 * reading a text file does.
 */
import type { ExtractOutcome, ExtractRequest } from "./extract.js";
import { ExtractFailure } from "./extract-failure.js";
import { sniffFile } from "./sniff.js";

export async function runExtraction(request: ExtractRequest): Promise<ExtractOutcome> {
  const sniffed = await sniffFile(request.path, request.fileName ?? request.path);
  if (sniffed.kind === null) {
    return { status: sniffed.failed ? "failed" : "skipped", mimeType: sniffed.mimeType, reason: sniffed.reason };
  }
  const { kind, mimeType } = sniffed;
  try {
    switch (kind) {
      case "pdf": {
        const { extractPdf } = await import("./pdf.extractor.js");
        const { sections, pages } = await extractPdf(request.path);
        return { status: "ok", kind, mimeType, sections, pages };
      }
      case "docx": {
        const { extractDocx } = await import("./docx.extractor.js");
        return { status: "ok", kind, mimeType, sections: await extractDocx(request.path), pages: null };
      }
      case "odt": {
        const { extractOdt } = await import("./odt.extractor.js");
        return { status: "ok", kind, mimeType, sections: await extractOdt(request.path), pages: null };
      }
      case "markdown":
      case "text": {
        const { extractText } = await import("./text.extractor.js");
        return { status: "ok", kind, mimeType, sections: await extractText(request.path, kind === "markdown"), pages: null };
      }
    }
  } catch (err) {
    if (err instanceof ExtractFailure) return { status: err.status, mimeType, reason: err.message };
    return { status: "failed", mimeType, reason: `the ${kind.toUpperCase()} file could not be read: ${err instanceof Error ? err.message : String(err)}` };
  }
}
