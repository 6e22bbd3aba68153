/**
 * VIP takeover time (issue 17's benchmark, guide §4.7: "a backup pool grabs the VIP within 3
 * seconds"): three hosts in network namespaces (test/vip-hosts.ts: bonded pools, sidecars, real
 * keepalived), no-preempt mode so that every kill moves the VIP once. `kills` times: kill -9 of the
 * holder's pool, time until another host holds the VIP and it answers GET /v1/status (curl from the
 * client namespace, every 50 ms), then the killed pool is started again (it stays backup) before the
 * next kill. The holders are sampled every 100 ms throughout: `dualMasterSamples` counts samples that
 * saw two hosts holding the VIP. Needs root, iproute2, curl and keepalived; bench/entry.bench.ts
 * calls it (`npm run bench:entry`), or run it alone: `node --import tsx bench/entry/vip-takeover.ts 10`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { waitFor } from "../../test/helpers.js";
import { POOL_PORT, VIP, VipHosts } from "../../test/vip-hosts.js";

export interface VipTakeoverResult {
  takeoverMs: number[];
  p50: number;
  p95: number;
  dualMasterSamples: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function measureVipTakeover(kills = 10, opts: { signal?: AbortSignal } = {}): Promise<VipTakeoverResult> {
  // The three pools start from one migrated template database (as under vitest), not three initdb at once.
  process.env.CELLULE_TEST_TEMPLATE_DIR ??= mkdtempSync(join(tmpdir(), "cellule-vip-bench-template-"));
  const hosts = new VipHosts({ mode: "no-preempt" });
  // Interrupted (Ctrl-C): the processes and namespaces go away all the same.
  const interrupted = () => void hosts.stop().finally(() => process.exit(130));
  opts.signal?.addEventListener("abort", interrupted, { once: true });
  const takeoverMs: number[] = [];
  let dual = 0;
  try {
    await hosts.start();
    const sampler = hosts.sampleHolders(100);
    try {
      for (let i = 0; i < kills; i++) {
        const [holder] = await hosts.holders();
        if (!holder) throw new Error("no host holds the VIP before a kill");
        const killedAt = performance.now();
        await hosts.killPool(holder);
        // The killed pool cannot answer: the first 200 through the VIP comes from a backup.
        await waitFor(async () => (await hosts.curl(`http://${VIP}:${POOL_PORT}/v1/status`, { timeoutS: 0.5 })).status === 200, "a backup to answer through the VIP", 20_000, 50);
        takeoverMs.push(Math.round(performance.now() - killedAt));
        const now = await hosts.holders();
        if (now.length !== 1 || now[0] === holder) throw new Error(`after the kill of ${holder.name}, the VIP is on ${now.map((h) => h.name).join("+") || "no host"}`);
        process.stderr.write(`vip takeover ${i + 1}/${kills}: ${takeoverMs.at(-1)} ms (${holder.name} killed)\n`);
        await hosts.startPool(holder);
        // Ready again and back in the election (BACKUP) before the next kill.
        await waitFor(async () => (await hosts.admin(holder, "GET", "/v1/cluster/vip-info")).pools.find((p: { self: boolean }) => p.self)?.state === "BACKUP", `${holder.name} back as backup`, 30_000, 200);
      }
    } finally {
      dual = (await sampler.stop()).dual;
    }
  } finally {
    await hosts.stop();
  }
  const sorted = [...takeoverMs].sort((a, b) => a - b);
  return { takeoverMs, p50: percentile(sorted, 50), p95: percentile(sorted, 95), dualMasterSamples: dual };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const kills = Number(process.argv[2] ?? 10);
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  const r = await measureVipTakeover(kills, { signal: stop.signal });
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stdout.write(`VIP takeover over ${kills} kills: p50 ${r.p50} ms, p95 ${r.p95} ms (target p95 ≤ 3000 ms), dual-master samples ${r.dualMasterSamples}\n`);
  process.exitCode = r.p95 <= 3000 && r.dualMasterSamples === 0 ? 0 : 1;
}
