/**
 * A fake worker connection: a WorkerConnection whose socket records every message the pool sends
 * (parsed), and optionally answers them (`onMessage`), so dispatcher, balancing and service tests
 * need neither a WebSocket nor a worker process.
 */
import type { WebSocket } from "ws";
import type { Capability, GenerateJob, Hardware, HardwareClass, PoolMessage, ServedModel } from "../../src/protocol/worker.protocol.js";
import { WorkerConnection } from "../../src/pool/hub/worker-connection.js";

export function hardware(hardwareClass: HardwareClass = "cpu-mid"): Hardware {
  return { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass };
}

export const HARDWARE: Hardware = hardware();

/** A served model with a chat template. */
export function servedModel(id = "m1", capabilities: Capability[] = ["chat", "completion"], extra: Partial<ServedModel> = {}): ServedModel {
  return { id, capabilities, contextSize: 2048, chatTemplate: true, ...extra };
}

export interface FakeWorkerOptions {
  /** Display name; default `name-<id>`. */
  name?: string;
  slots?: number;
  models?: ServedModel[];
  hardware?: Hardware;
  lastUsedAt?: number;
  /** Called with each message the pool sends, after it is recorded (e.g. to answer a job). */
  onMessage?: (msg: PoolMessage, conn: WorkerConnection) => void;
}

export interface FakeWorker {
  conn: WorkerConnection;
  /** Every message the pool sent this worker, in order. */
  readonly sent: PoolMessage[];
  ofType<T extends PoolMessage["type"]>(type: T): Extract<PoolMessage, { type: T }>[];
  generates(): GenerateJob[];
}

export function fakeWorker(id: string, opts: FakeWorkerOptions = {}): FakeWorker {
  const sent: PoolMessage[] = [];
  const socket = {
    send(data: string) {
      const msg = JSON.parse(data) as PoolMessage;
      sent.push(msg);
      opts.onMessage?.(msg, conn);
    },
  };
  const conn: WorkerConnection = new WorkerConnection(id, opts.name ?? `name-${id}`, socket as unknown as WebSocket, opts.hardware ?? HARDWARE, opts.models ?? [servedModel()], opts.slots ?? 1, "test", "127.0.0.1");
  if (opts.lastUsedAt !== undefined) conn.lastUsedAt = opts.lastUsedAt;
  const ofType = <T extends PoolMessage["type"]>(type: T) => sent.filter((m): m is Extract<PoolMessage, { type: T }> => m.type === type);
  return { conn, sent, ofType, generates: () => ofType("generate") };
}
