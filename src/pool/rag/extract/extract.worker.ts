/**
 * Entry of the extraction process (forked by extract.ts, compiled next to it): runs one
 * extraction, sends its outcome over the IPC channel, and exits. The request is argv[2] (JSON).
 */
import type { ExtractRequest } from "./extract.js";
import { runExtraction } from "./run-extraction.js";

// Orphaned (the pool died): nothing to report to, stop at once.
process.on("disconnect", () => process.exit(0));

const request = JSON.parse(process.argv[2] ?? "{}") as ExtractRequest;
const outcome = await runExtraction(request);
process.send!(outcome, () => process.exit(0));
