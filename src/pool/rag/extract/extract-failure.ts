/**
 * How an extractor says a file cannot give text: "failed" (damaged, encrypted, zip bomb) or
 * "skipped" (no text, a type we do not read), with a reason written for the person who uploaded
 * it. Stays inside the extraction worker thread; the caller only ever sees an ExtractOutcome.
 */
export class ExtractFailure extends Error {
  constructor(
    readonly status: "failed" | "skipped",
    reason: string,
  ) {
    super(reason);
    this.name = "ExtractFailure";
  }
}

export const NO_TEXT = "no text could be extracted (scanned images?)";

export const failed = (reason: string) => new ExtractFailure("failed", reason);
export const skipped = (reason: string) => new ExtractFailure("skipped", reason);
