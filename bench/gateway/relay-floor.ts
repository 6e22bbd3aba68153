/**
 * The floor under the pool's added time to first token: the same 4 loopback hops as a streamed
 * answer through the pool (client → pool → worker, worker → pool → client), with nothing else.
 * relay-server.ts (bare node:http + one WebSocket, no framework, auth, validation or dispatcher)
 * relays each request to spin-worker.ts, whose "generation" busy-loops on a worker thread for
 * FIRST_MS before the first chunk and REST_MS after it, as llama.cpp does on its own thread. The
 * direct side runs the same busy loop on a worker thread of this process. Requests alternate
 * relay/direct, one at a time, so both see the same machine. "Added" = relay pN − direct pN, as
 * in the end-to-end phase: what any implementation of this architecture pays on this machine
 * before the pool's own code runs.
 */
import { Worker } from "node:worker_threads";
import { startListeningChild } from "./child.js";
import { KeepAliveClient } from "./http-client.js";
import { SPIN_THREAD } from "./spin-thread.js";
import { progress, round3, summarize, type Summary } from "./stats.js";

/** Close to stories260K's direct TTFT and short answer here. */
const FIRST_MS = 6;
const REST_MS = 20;
const ROUNDS = 300;
const WARMUP = 20;

export interface RelayFloorResult {
  firstMs: number;
  restMs: number;
  requests: number;
  relayTtft: Summary;
  directTtft: Summary;
  addedTtftP50Ms: number;
  addedTtftP95Ms: number;
}

export async function measureRelayFloor(): Promise<RelayFloorResult> {
  progress(`relay floor: ${ROUNDS} requests through a bare http → WebSocket relay and a busy-loop worker, alternating with the loop run here`);
  const worker = await startListeningChild("spin-worker.ts");
  const spinner = new Worker(SPIN_THREAD, { eval: true });
  let relay: Awaited<ReturnType<typeof startListeningChild>> | undefined;
  let client: KeepAliveClient | undefined;
  try {
    relay = await startListeningChild("relay-server.ts", { CELLULE_BENCH_SPIN_PORT: String(worker.port) });
    client = new KeepAliveClient(`http://127.0.0.1:${relay.port}`, undefined, 1);
    const body = JSON.stringify({ model: "spin", messages: [{ role: "user", content: "Tell me a story about a cat (story 1)." }], stream: true, firstMs: FIRST_MS, restMs: REST_MS });
    const spin = (ms: number) =>
      new Promise<void>((resolve) => {
        spinner.once("message", () => resolve());
        spinner.postMessage(ms);
      });
    const direct = async () => {
      const start = performance.now();
      await spin(FIRST_MS);
      const ttft = performance.now() - start;
      await spin(REST_MS);
      return ttft;
    };
    const relayed: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const r = await client.postChatStream("/v1/chat/completions", body);
      const d = await direct();
      if (i < WARMUP) continue;
      relayed.push(r.ttftMs);
      local.push(d);
    }
    const relayTtft = summarize(relayed);
    const directTtft = summarize(local);
    return { firstMs: FIRST_MS, restMs: REST_MS, requests: ROUNDS, relayTtft, directTtft, addedTtftP50Ms: round3(relayTtft.p50 - directTtft.p50), addedTtftP95Ms: round3(relayTtft.p95 - directTtft.p95) };
  } finally {
    client?.close();
    await spinner.terminate();
    await relay?.stop();
    await worker.stop();
  }
}
