/**
 * Per-connection frame size limit. The worker socket server starts every connection with a small
 * limit, so a peer that has not authenticated cannot make the pool buffer a large frame: ws's
 * Receiver compares each frame header's length with its `_maxPayload` and closes with 1009 before
 * reading the payload. After a successful hello the limit is raised for that connection only.
 * ws has no public API for this; the unit test next to this file fails if a ws upgrade moves it.
 */
import type { WebSocket } from "ws";

interface ReceiverInternals {
  _maxPayload?: unknown;
}

/** Sets the largest message `ws` accepts from now on. Throws when ws's internals are not as expected. */
export function setFrameLimit(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: ReceiverInternals | null })._receiver;
  if (!receiver || typeof receiver._maxPayload !== "number") {
    throw new Error("cannot change this WebSocket's frame limit: ws's Receiver has no numeric _maxPayload (ws upgraded?)");
  }
  receiver._maxPayload = bytes;
}
