/**
 * Entry of the extraction process (forked by extract.ts, compiled next to it): runs one
 * extraction, sends its outcome over the IPC channel, and exits. The request is argv[2] (JSON).
 * The sections of a large document go in pieces of about PIECE_CHARS before the outcome itself, so
 * the pool never holds one huge serialised message (a 50 MB text cost it ~100 MB of buffers).
 */
import type { ExtractRequest, Section } from "./extract.js";
import { runExtraction } from "./run-extraction.js";

const PIECE_CHARS = 1 << 20;

// Orphaned (the pool died): nothing to report to, stop at once.
process.on("disconnect", () => process.exit(0));

const send = (message: unknown) => new Promise<void>((resolve, reject) => process.send!(message, (err: Error | null) => (err ? reject(err) : resolve())));

const request = JSON.parse(process.argv[2] ?? "{}") as ExtractRequest;
const outcome = await runExtraction(request);
if (outcome.status === "ok") {
  let piece: Section[] = [];
  let size = 0;
  for (const section of outcome.sections) {
    piece.push(section);
    size += section.text.length;
    if (size >= PIECE_CHARS) {
      await send({ type: "sections", sections: piece });
      piece = [];
      size = 0;
    }
  }
  if (piece.length > 0) await send({ type: "sections", sections: piece });
  await send({ type: "outcome", outcome: { ...outcome, sections: [] } });
} else {
  await send({ type: "outcome", outcome });
}
process.exit(0);
