/**
 * Entry of the extraction process (forked by extract.ts, compiled next to it): runs one
 * extraction and reports it over the IPC channel. A failure or skip is one `outcome` message. A
 * success is `begin` (kind, pages), then the sections in pieces of about PIECE_CHARS, one piece each
 * time the pool asks for `more`, then `end`: the pool stores a piece's chunks before it asks for the
 * next, so it never holds the whole text (a 50 MB document would be 50 MB of its heap).
 */
import type { ExtractRequest, ExtractWorkerMessage, Section } from "./extract.js";
import { runExtraction } from "./run-extraction.js";

const PIECE_CHARS = 1 << 20;

// Orphaned (the pool died): nothing to report to, stop at once.
process.on("disconnect", () => process.exit(0));

const send = (message: ExtractWorkerMessage) => new Promise<void>((resolve, reject) => process.send!(message, (err: Error | null) => (err ? reject(err) : resolve())));

function* pieces(sections: Section[]): Generator<Section[]> {
  let piece: Section[] = [];
  let size = 0;
  for (let i = 0; i < sections.length; i++) {
    const section = sections[i]!;
    (sections as (Section | undefined)[])[i] = undefined; // sent: no need to keep it here either
    piece.push(section);
    size += section.text.length;
    if (size >= PIECE_CHARS) {
      yield piece;
      piece = [];
      size = 0;
    }
  }
  if (piece.length > 0) yield piece;
}

const request = JSON.parse(process.argv[2] ?? "{}") as ExtractRequest;
const outcome = await runExtraction(request);
if (outcome.status === "ok") {
  const { sections, ...rest } = outcome;
  const next = pieces(sections);
  process.on("message", (msg: { type?: string }) => {
    if (msg?.type !== "more") return;
    const piece = next.next();
    // A failed send means the pool closed the channel: nobody is left to read, exit (not an unhandled rejection).
    (piece.done ? send({ type: "end" }).then(() => process.exit(0)) : send({ type: "sections", sections: piece.value })).catch(() => process.exit(1));
  });
  await send({ type: "begin", outcome: rest });
} else {
  await send({ type: "outcome", outcome });
  process.exit(0);
}
