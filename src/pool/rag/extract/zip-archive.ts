/**
 * ZIP containers (DOCX, ODT) read defensively with yauzl. Opening walks the whole central
 * directory and refuses archives whose declared sizes are absurd (total, per-entry ratio, entry
 * count); reading an entry counts the bytes actually inflated, so an entry that lies about its
 * size is stopped as soon as it passes what it declared. Errors come out as ExtractFailure.
 */
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { failed } from "./extract-failure.js";

const MB = 1024 * 1024;

export interface ZipLimits {
  /** Uncompressed bytes of all entries together, declared or inflated. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of an entry once it is past `ratioGraceBytes`. */
  maxRatio: number;
  ratioGraceBytes: number;
  maxEntries: number;
}

export const ZIP_LIMITS: ZipLimits = { maxTotalBytes: 200 * MB, maxRatio: 100, ratioGraceBytes: MB, maxEntries: 10_000 };

export class ZipArchive {
  private inflated = 0;

  private constructor(
    private readonly zip: ZipFile,
    /** Entries by name, in central directory order. */
    readonly entries: Map<string, Entry>,
    private readonly label: string,
    private readonly limits: ZipLimits,
  ) {}

  /**
   * Opens the archive and, unless `checkSizes` is false (the caller then calls checkDeclaredSizes
   * itself), refuses absurd declared sizes. `label` names the format in reasons ("DOCX").
   */
  static async open(path: string, label: string, opts: { limits?: ZipLimits; checkSizes?: boolean } = {}): Promise<ZipArchive> {
    const limits = opts.limits ?? ZIP_LIMITS;
    const zip = await new Promise<ZipFile>((resolve, reject) => {
      yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, z) => {
        if (err) reject(failed(`the ${label} file is damaged: ${err.message}`));
        else resolve(z);
      });
    });
    try {
      if (zip.entryCount > limits.maxEntries) throw failed(`archive has more than ${limits.maxEntries} entries (possible zip bomb)`);
      const archive = new ZipArchive(zip, await readDirectory(zip, label), label, limits);
      if (opts.checkSizes !== false) archive.checkDeclaredSizes();
      return archive;
    } catch (err) {
      zip.close();
      throw err;
    }
  }

  /** Throws when the central directory announces more than the limits allow. */
  checkDeclaredSizes(): void {
    let declared = 0;
    for (const entry of this.entries.values()) {
      declared += entry.uncompressedSize;
      if (declared > this.limits.maxTotalBytes) throw bombTotal(this.limits);
      if (entry.uncompressedSize > this.limits.ratioGraceBytes && entry.uncompressedSize > entry.compressedSize * this.limits.maxRatio) throw bombRatio(this.limits);
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The inflated bytes of entry `name`, chunk by chunk, counted against the limits. */
  async *stream(name: string): AsyncGenerator<Buffer> {
    const entry = this.entries.get(name);
    if (!entry) throw failed(`the ${this.label} file is damaged: ${name} is missing`);
    if (entry.isEncrypted()) throw failed(`the ${this.label} file is password-protected`);
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
      this.zip.openReadStream(entry, (err, s) => (err ? reject(this.translate(err)) : resolve(s)));
    });
    let entryBytes = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        entryBytes += chunk.length;
        this.inflated += chunk.length;
        if (this.inflated > this.limits.maxTotalBytes) throw bombTotal(this.limits);
        if (entryBytes > entry.uncompressedSize) throw failed("archive expands to more than it declares (possible zip bomb)");
        if (entryBytes > this.limits.ratioGraceBytes && entryBytes > entry.compressedSize * this.limits.maxRatio) throw bombRatio(this.limits);
        yield chunk;
      }
    } catch (err) {
      throw this.translate(err);
    } finally {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }

  /** The whole entry in memory (for small parts such as ODF's `mimetype`), at most `maxBytes`. */
  async read(name: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.stream(name)) {
      size += chunk.length;
      if (size > maxBytes) throw failed(`the ${this.label} file is damaged: ${name} is larger than expected`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /** Inflates entries and throws away the bytes: proves their real sizes before another library reads them. */
  async verify(names: Iterable<string>): Promise<void> {
    for (const name of names) {
      for await (const _ of this.stream(name));
    }
  }

  close(): void {
    this.zip.close();
  }

  private translate(err: unknown): Error {
    if (err instanceof Error && err.name === "ExtractFailure") return err;
    const msg = err instanceof Error ? err.message : String(err);
    if (/too many bytes/i.test(msg)) return failed("archive expands to more than it declares (possible zip bomb)");
    if (/encrypted/i.test(msg)) return failed(`the ${this.label} file is password-protected`);
    return failed(`the ${this.label} file is damaged: ${msg}`);
  }
}

function readDirectory(zip: ZipFile, label: string): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Entry>();
    zip.on("entry", (entry: Entry) => {
      // Two entries of one name could be read differently by two libraries: refuse.
      if (entries.has(entry.fileName)) {
        reject(failed(`the ${label} file is damaged: ${entry.fileName} appears twice`));
        return;
      }
      entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.once("end", () => resolve(entries));
    zip.once("error", (err: Error) => reject(failed(`the ${label} file is damaged: ${err.message}`)));
    zip.readEntry();
  });
}

function bombTotal(limits: ZipLimits): Error {
  const size = limits.maxTotalBytes >= MB ? `${Math.round(limits.maxTotalBytes / MB)} MB` : `${Math.round(limits.maxTotalBytes / 1024)} KB`;
  return failed(`archive expands to more than ${size} (possible zip bomb)`);
}

function bombRatio(limits: ZipLimits): Error {
  return failed(`archive expands to more than ${limits.maxRatio} times its compressed size (possible zip bomb)`);
}
