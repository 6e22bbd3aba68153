/**
 * Model distribution benchmark (`npm run bench:models-distribution`, issue 19): how fast an auto
 * worker fetches a model file from its pool over loopback, against a raw copy of the same file on
 * the same disk. The file is the test model concatenated to ~200 MB in a temp dir, served by the
 * hub's real download route (model-download.routes.ts, Fastify, download token of a connected auto
 * worker) and fetched by the worker's real downloader (model-downloader.ts: .part file, sha256 of
 * every byte, rename); the baseline is fs.copyFile (what `cp` does). The file stays in the page
 * cache for both (each is measured BENCH_MODELS_RUNS times, alternating; medians compared).
 * The route runs in its own process (bench/models/serve-route.ts), as a pool does; both share the
 * machine, as they do when a worker runs on a pool's host. Target: download ÷ copy throughput ≥ 0.8.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/models-distribution-<timestamp>.json
 * and models-distribution-latest.json.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { configureLogging } from "../src/shared/logger.js";
import { downloadFile } from "../src/worker/models/model-downloader.js";
import { modelPath, spawnNode, waitFor } from "../test/helpers.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Section } from "./report.js";

const NAME = "models-distribution";
const progress = progressOf(NAME);
const TARGET_BYTES = Number(process.env.BENCH_MODELS_BYTES ?? 200 * 1024 * 1024);
const RUNS = Number(process.env.BENCH_MODELS_RUNS ?? 3);
const dir = mkdtempSync(join(tmpdir(), "cellule-bench-models-"));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mbps = (bytes: number, ms: number) => bytes / 1024 / 1024 / (ms / 1000);

async function main(): Promise<void> {
  configureLogging("warn", "json");
  const started = new Date();
  const environment = machine();
  // The big file: the test model, concatenated.
  const unit = readFileSync(modelPath());
  const file = join(dir, "big.gguf");
  const out = createWriteStream(file);
  const hash = createHash("sha256");
  let size = 0;
  while (size < TARGET_BYTES) {
    out.write(unit);
    hash.update(unit);
    size += unit.length;
  }
  await new Promise<void>((r) => out.end(r));
  const sha256 = hash.digest("hex");
  progress(`file: ${(size / 1024 / 1024).toFixed(0)} MiB (${RUNS} runs of each)`);

  const server = spawnNode(["--import", "tsx", join(import.meta.dirname, "models", "serve-route.ts"), file, sha256]);
  const { url, token } = await waitFor(
    () => {
      if (server.proc.exitCode !== null) throw new Error(`the route process exited: ${server.output()}`);
      const line = /^\{"url".*\}$/m.exec(server.output())?.[0];
      return line ? (JSON.parse(line) as { url: string; token: string }) : undefined;
    },
    "the route process",
    60_000,
  );

  // Warm the page cache.
  await pipeline(createReadStream(file), createWriteStream("/dev/null"));
  const copyMs: number[] = [];
  const streamMs: number[] = [];
  const downloadMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const copyDest = join(dir, "copy.gguf");
    let t = performance.now();
    await copyFile(file, copyDest);
    copyMs.push(performance.now() - t);
    await rm(copyDest);
    // For context: the same bytes read and written through this process (what the download's disk side costs).
    t = performance.now();
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), createWriteStream(copyDest, { highWaterMark: 1024 * 1024 }));
    streamMs.push(performance.now() - t);
    await rm(copyDest);
    const dest = join(dir, "downloaded.gguf");
    t = performance.now();
    await downloadFile({ url, sha256, sizeBytes: size, dest, headers: { authorization: `Bearer ${token}` } });
    downloadMs.push(performance.now() - t);
    if (statSync(dest).size !== size) throw new Error("download incomplete");
    await rm(dest);
    progress(`run ${i + 1}: copy ${mbps(size, copyMs[i]!).toFixed(0)} MiB/s, download ${mbps(size, downloadMs[i]!).toFixed(0)} MiB/s`);
  }
  await server.kill("SIGTERM");

  const copy = mbps(size, median(copyMs));
  const stream = mbps(size, median(streamMs));
  const download = mbps(size, median(downloadMs));
  const ratio = Math.round((download / copy) * 100) / 100;
  const ratioCheck = check("download_vs_copy", "download ÷ copy throughput", ratio, "×", "≥", 0.8);
  const sections: Section[] = [
    {
      title: `Model distribution (${(size / 1024 / 1024).toFixed(0)} MiB over loopback, median of ${RUNS})`,
      rows: [
        { metric: "raw copy (fs.copyFile)", value: `${copy.toFixed(0)} MiB/s` },
        { metric: "stream copy (read + write in Node, for context)", value: `${stream.toFixed(0)} MiB/s` },
        { metric: "worker download (Range route + sha256 + .part)", value: `${download.toFixed(0)} MiB/s` },
        { metric: "download ÷ copy", value: `${ratio}×`, check: ratioCheck },
      ],
    },
  ];
  const report = makeReport(NAME, started, environment, ["the route in its own process (bench/models/serve-route.ts), the downloader in this one; the file in the page cache for both"], [ratioCheck], {
    fileBytes: size,
    runs: RUNS,
    copyMs,
    streamMs,
    downloadMs,
    streamMiBps: stream,
    copyMiBps: copy,
    downloadMiBps: download,
    ratio,
  });
  publish(report, sections, progress);
}

runBenchmark({ watchdogMs: 10 * 60_000, progress, main, cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
