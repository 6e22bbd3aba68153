/** The push queues' last attempt on drain: a peer in backoff is tried at once; a peer still down does not hold the drain. */
import { beforeAll, describe, expect, it } from "vitest";
import { configureLogging } from "../../../shared/logger.js";
import type { Envelope } from "./envelope.js";
import { Outbox, type PushTarget } from "./outbox.js";

beforeAll(() => configureLogging("silent"));

const env = (seq: number) => ({ origin: "atom_a", seq, kind: "project.upsert", payload: { seq } }) as unknown as Envelope;
const B: PushTarget = { atom_id: "atom_b", url: "http://127.0.0.1:1" };
const C: PushTarget = { atom_id: "atom_c", url: "http://127.0.0.1:2" };
const settle = () => new Promise((r) => setTimeout(r, 20));

describe("Outbox.drain", () => {
  it("retries a peer in backoff at once and empties its queue when the push succeeds", async () => {
    let up = false;
    const sent: number[] = [];
    const outbox = new Outbox(async (_peer, batch) => {
      if (!up) throw new Error("connection refused");
      sent.push(...batch.map((e) => e.seq));
    });
    outbox.enqueue(B, [env(1), env(2)]);
    await settle();
    expect(outbox.pending()).toEqual({ atom_b: 2 }); // failed once: waiting for its backoff (250 ms)
    up = true;
    await outbox.drain();
    expect(sent).toEqual([1, 2]);
    expect(outbox.pending()).toEqual({ atom_b: 0 });
    outbox.close();
  });

  it("resolves after one failed attempt for a peer that is down, having pushed to the others", async () => {
    const attempts = { atom_b: 0, atom_c: 0 };
    const outbox = new Outbox(async (peer) => {
      attempts[peer.atom_id as keyof typeof attempts]++;
      if (peer.atom_id === "atom_b") throw new Error("connection refused");
    });
    outbox.enqueue(B, [env(1)]);
    outbox.enqueue(C, [env(1)]);
    await settle();
    const started = Date.now();
    await outbox.drain();
    expect(Date.now() - started).toBeLessThan(200); // not the backoff, not a wait for B to come back
    expect(attempts).toEqual({ atom_b: 2, atom_c: 1 }); // C had nothing left to send
    expect(outbox.pending()).toEqual({ atom_b: 1, atom_c: 0 });
    outbox.close();
  });

  it("waits for a push already on its way", async () => {
    let release: () => void = () => {};
    const outbox = new Outbox(() => new Promise<void>((r) => (release = r)));
    outbox.enqueue(B, [env(1)]);
    let drained = false;
    const drain = outbox.drain().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    release();
    await drain;
    expect(outbox.pending()).toEqual({ atom_b: 0 });
    outbox.close();
  });
});
