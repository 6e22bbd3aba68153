/**
 * The model downloader against a local HTTP server serving the test model (Range supported): a
 * download cut halfway resumes from the `.part` file, a corrupted byte is detected and the file
 * fetched again, a source that stays corrupted is refused, and too little free disk is refused
 * before anything is written.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { modelPath } from "../../../test/helpers.js";
import { ChecksumMismatchError, DownloadRefusedError, downloadFile, InsufficientSpaceError } from "./model-downloader.js";

const model = readFileSync(modelPath());
const sha = createHash("sha256").update(model).digest("hex");

/** What the server does to the next requests. */
const behaviour = { cutAfter: 0, corruptTimes: 0, requests: [] as { range: string | undefined; auth: string | undefined }[] };
let server: http.Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    behaviour.requests.push({ range: req.headers.range, auth: req.headers.authorization });
    if (req.url === "/denied") {
      res.writeHead(401).end();
      return;
    }
    let body = model;
    if (behaviour.corruptTimes > 0) {
      behaviour.corruptTimes--;
      body = Buffer.from(model);
      const mid = body.length >> 1;
      body[mid] = body[mid]! ^ 0xff;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { "content-length": slice.length, "accept-ranges": "bytes", ...(m ? { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (behaviour.cutAfter > 0) {
      const cut = behaviour.cutAfter;
      behaviour.cutAfter = 0;
      res.write(slice.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

afterEach(() => {
  behaviour.cutAfter = 0;
  behaviour.corruptTimes = 0;
  behaviour.requests = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fresh = () => (dir = mkdtempSync(join(tmpdir(), "cellule-dl-")));

describe("downloadFile", () => {
  it("downloads, verifies and moves the file into place, with the headers given", async () => {
    const dest = join(fresh(), "m.gguf");
    const progress: number[] = [];
    const out = await downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest, headers: { authorization: "Bearer t0k" }, onProgress: (n) => progress.push(n) });
    expect(out).toMatchObject({ bytes: model.length, resumedFrom: 0, refetched: 0 });
    expect(readFileSync(dest).equals(model)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(progress.at(-1)).toBe(model.length);
    expect(behaviour.requests).toEqual([{ range: undefined, auth: "Bearer t0k" }]);
  });

  it("resumes a download cut halfway with a Range request from the bytes already there", async () => {
    const dest = join(fresh(), "m.gguf");
    const half = model.length >> 1;
    behaviour.cutAfter = half;
    const out = await downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest, retryDelayMs: 10 });
    expect(readFileSync(dest).equals(model)).toBe(true);
    expect(out.refetched).toBe(0);
    expect(behaviour.requests).toHaveLength(2);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(behaviour.requests[1]!.range ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(half);
  });

  it("resumes from a .part file left by an earlier run", async () => {
    const dest = join(fresh(), "m.gguf");
    writeFileSync(`${dest}.part`, model.subarray(0, 1000));
    const out = await downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest });
    expect(out.resumedFrom).toBe(1000);
    expect(behaviour.requests).toEqual([{ range: "bytes=1000-", auth: undefined }]);
    expect(readFileSync(dest).equals(model)).toBe(true);
  });

  it("detects a corrupted byte, deletes the file and fetches it again", async () => {
    const dest = join(fresh(), "m.gguf");
    behaviour.corruptTimes = 1;
    const out = await downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest });
    expect(out.refetched).toBe(1);
    expect(behaviour.requests).toEqual([
      { range: undefined, auth: undefined },
      { range: undefined, auth: undefined },
    ]);
    expect(readFileSync(dest).equals(model)).toBe(true);
  });

  it("refuses a source that stays corrupted, leaving nothing behind", async () => {
    const dest = join(fresh(), "m.gguf");
    behaviour.corruptTimes = 5;
    await expect(downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(behaviour.requests).toHaveLength(2);
  });

  it("refuses before the request when the disk has too little free space", async () => {
    const dest = join(fresh(), "m.gguf");
    const err = await downloadFile({ url: `${base}/m`, sha256: sha, sizeBytes: model.length, dest, freeBytes: async () => 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientSpaceError);
    expect((err as InsufficientSpaceError).message).toMatch(/not enough free disk space/);
    expect(behaviour.requests).toHaveLength(0);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it("checks the space against the announced length when the size is not known beforehand", async () => {
    const dest = join(fresh(), "m.gguf");
    await expect(downloadFile({ url: `${base}/m`, sha256: sha, dest, freeBytes: async () => 1000 })).rejects.toBeInstanceOf(InsufficientSpaceError);
    expect(behaviour.requests).toHaveLength(1);
  });

  it("does not retry a refused request", async () => {
    const dest = join(fresh(), "m.gguf");
    await expect(downloadFile({ url: `${base}/denied`, sha256: sha, sizeBytes: model.length, dest })).rejects.toBeInstanceOf(DownloadRefusedError);
    expect(behaviour.requests).toHaveLength(1);
  });

  it("verifies a .part that already holds the whole file (416 on resume)", async () => {
    const dest = join(fresh(), "m.gguf");
    writeFileSync(`${dest}.part`, model);
    // Size unknown: the part is not truncated first; the server answers 416 past the end.
    const srv = http.createServer((req, res) => {
      behaviour.requests.push({ range: req.headers.range, auth: undefined });
      res.writeHead(416, { "content-range": `bytes */${model.length}` }).end();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      await downloadFile({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/m`, sha256: sha, dest });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
    expect(statSync(dest).size).toBe(model.length);
  });
});
