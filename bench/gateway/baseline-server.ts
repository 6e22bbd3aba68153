/**
 * The latency baseline for the pool-overhead phase, run as its own process: a bare node:http server
 * that reads the request body and answers every request with a fixed JSON body (env BASELINE_BODY,
 * a real pool response, so both sides send the same number of bytes). Usage: baseline-server.ts PORT;
 * it prints `listening <port>` when ready.
 * Anything the pool does beyond this (routing, validation, auth, dispatch over WebSocket, the
 * worker round trip) is the "added latency" the benchmark reports.
 */
import http from "node:http";

const body = Buffer.from(process.env.BASELINE_BODY ?? "{}");

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length });
    res.end(body);
  });
});
// Like Fastify's default, so idle keep-alive sockets survive the pauses between rounds.
server.keepAliveTimeout = 72_000;
const port = Number(process.argv[2]);
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
