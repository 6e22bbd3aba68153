/**
 * The worker's stand-in for the relay floor (relay-floor.ts): a WebSocket server whose "generation"
 * is a busy loop on a worker thread, as llama.cpp computes on a thread of its own while the main
 * thread waits. A `generate` message ({jobId, firstMs, restMs}) spins firstMs, sends one `chunk`,
 * spins restMs, sends `done`. Usage: spin-worker.ts PORT; prints `listening <port>` when ready.
 */
import { Worker } from "node:worker_threads";
import { WebSocketServer } from "ws";
import { SPIN_THREAD } from "./spin-thread.js";

const spinner = new Worker(SPIN_THREAD, { eval: true });
const spin = (ms: number) =>
  new Promise<void>((resolve) => {
    spinner.once("message", () => resolve());
    spinner.postMessage(ms);
  });

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ port, host: "127.0.0.1" }, () => process.stdout.write(`listening ${port}\n`));
wss.on("connection", (ws) => {
  ws.on("message", (data) => {
    const job = JSON.parse((data as Buffer).toString()) as { jobId: string; firstMs: number; restMs: number };
    void (async () => {
      await spin(job.firstMs);
      ws.send(JSON.stringify({ type: "chunk", jobId: job.jobId, text: "Once", tokens: 1 }));
      await spin(job.restMs);
      ws.send(JSON.stringify({ type: "done", jobId: job.jobId }));
    })();
  });
});
process.on("SIGTERM", () => process.exit(0));
