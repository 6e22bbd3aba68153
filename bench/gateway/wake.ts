/**
 * What one message between two processes costs on this machine, the floor under the pool's fixed
 * cost per request: round trips of a 200-byte message to an echo process over loopback TCP, sent
 * back to back (both processes running) and after 25 ms of silence (the echo process idle, as the
 * pool and the client are while a worker generates). A streamed answer crosses 4 such hops on its
 * critical path (client → pool → worker, worker → pool → client).
 */
import net from "node:net";
import { startListeningChild } from "./child.js";
import { progress, round3, sleep, summarize, type Summary } from "./stats.js";

export interface WakeResult {
  /** Round trip, ms, messages back to back. */
  busyRoundTrip: Summary;
  /** Round trip, ms, each message after 25 ms of silence. */
  idleRoundTrip: Summary;
  /** Half the idle round-trip p50, ms: one hop to a process that was idle. */
  idleHopP50Ms: number;
}

const ROUNDS = 200;
const IDLE_MS = 25;

export async function measureWake(): Promise<WakeResult> {
  progress("wake-up: loopback round trips to an echo process, busy and after 25 ms idle");
  const echo = await startListeningChild("echo-server.ts");
  const socket = net.connect(echo.port, "127.0.0.1");
  try {
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const message = Buffer.alloc(200, 0x61);
    const roundTrip = () =>
      new Promise<number>((resolve) => {
        const start = performance.now();
        let got = 0;
        const onData = (d: Buffer) => {
          got += d.length;
          if (got < message.length) return;
          socket.off("data", onData);
          resolve(performance.now() - start);
        };
        socket.on("data", onData);
        socket.write(message);
      });
    for (let i = 0; i < 20; i++) await roundTrip();
    const busy: number[] = [];
    const idle: number[] = [];
    for (let i = 0; i < ROUNDS; i++) busy.push(await roundTrip());
    for (let i = 0; i < ROUNDS; i++) {
      await sleep(IDLE_MS);
      idle.push(await roundTrip());
    }
    const idleRoundTrip = summarize(idle);
    return { busyRoundTrip: summarize(busy), idleRoundTrip, idleHopP50Ms: round3(idleRoundTrip.p50 / 2) };
  } finally {
    socket.destroy();
    await echo.stop();
  }
}
