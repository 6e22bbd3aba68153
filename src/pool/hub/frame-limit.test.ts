import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { setFrameLimit } from "./frame-limit.js";

/** A server with a 1 KiB limit; `raise` runs on each connection before anything is read. */
async function server(raise: (ws: WebSocket) => void) {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", maxPayload: 1024 });
  await once(wss, "listening");
  const received: number[] = [];
  wss.on("connection", (ws) => {
    raise(ws);
    ws.on("message", (d: Buffer) => {
      received.push(d.length);
      ws.send("ok");
    });
    ws.on("error", () => undefined);
  });
  return { wss, received, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

/** Sends one message of `bytes` and resolves with the server's answer or the close code. */
function sendOne(url: string, bytes: number): Promise<string | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on("open", () => ws.send(Buffer.alloc(bytes, 1)));
    ws.on("message", () => {
      resolve("ok");
      ws.close();
    });
    ws.on("close", (code) => resolve(code));
    ws.on("error", () => undefined);
  });
}

describe("setFrameLimit (ws internals: fails if a ws upgrade moves them)", () => {
  it("the server's limit closes a larger frame with 1009 before the message is delivered", async () => {
    const s = await server(() => undefined);
    try {
      expect(await sendOne(s.url, 512)).toBe("ok");
      expect(await sendOne(s.url, 100_000)).toBe(1009);
      expect(s.received).toEqual([512]);
    } finally {
      s.wss.close();
    }
  });

  it("raises the limit of one connection", async () => {
    const s = await server((ws) => setFrameLimit(ws, 1024 * 1024));
    try {
      expect(await sendOne(s.url, 100_000)).toBe("ok");
      expect(await sendOne(s.url, 2 * 1024 * 1024)).toBe(1009);
      expect(s.received).toEqual([100_000]);
    } finally {
      s.wss.close();
    }
  });

  it("throws on a socket without the expected internals", () => {
    expect(() => setFrameLimit({} as WebSocket, 1)).toThrow(/_maxPayload/);
  });
});
