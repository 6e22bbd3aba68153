/**
 * The pool's stand-in for the relay floor (relay-floor.ts): a bare node:http server that parses a
 * chat body, relays it as a job over one WebSocket to spin-worker.ts (port in CELLULE_BENCH_SPIN_PORT)
 * and streams the worker's chunk back as SSE: the pool's 4 hops with no framework, no auth, no
 * validation, no dispatcher. Usage: relay-server.ts PORT; prints `listening <port>` when ready.
 */
import http from "node:http";
import WebSocket from "ws";

const port = Number(process.argv[2]);
const ws = new WebSocket(`ws://127.0.0.1:${process.env.CELLULE_BENCH_SPIN_PORT}`);
const open = new Map<string, http.ServerResponse>();
let next = 0;

ws.on("message", (data) => {
  const msg = JSON.parse((data as Buffer).toString()) as { type: "chunk" | "done"; jobId: string; text?: string };
  const res = open.get(msg.jobId);
  if (!res) return;
  if (msg.type === "done") {
    open.delete(msg.jobId);
    res.end("data: [DONE]\n\n");
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(`data: ${JSON.stringify({ id: `chatcmpl-${msg.jobId}`, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: msg.text }, finish_reason: null }] })}\n\n`);
});

ws.once("open", () => {
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const { firstMs, restMs } = JSON.parse(body) as { firstMs: number; restMs: number };
      const jobId = String(next++);
      open.set(jobId, res);
      ws.send(JSON.stringify({ type: "generate", jobId, firstMs, restMs }));
    });
  });
  server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
});
process.on("SIGTERM", () => process.exit(0));
