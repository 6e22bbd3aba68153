/**
 * Live updates for the dashboard: one WebSocket to the pool's /v1/admin/events (authenticated by
 * the session cookie), shared by every page, reconnected with backoff. Pages subscribe to the
 * event types they show instead of polling. Event shapes: src/protocol/dashboard.protocol.ts and
 * the topology event of src/protocol/federation.protocol.ts.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { LiveEvent as DashboardEvent } from "../src/protocol/dashboard.protocol.js";
import type { TopologyLiveEvent } from "../src/protocol/federation.protocol.js";

/** One server → client message of /v1/admin/events. */
export type LiveEvent = DashboardEvent | TopologyLiveEvent;

type Listener = (e: LiveEvent) => void;
type State = "connecting" | "open" | "closed";

const listeners = new Set<Listener>();
const stateListeners = new Set<(s: State) => void>();
let socket: WebSocket | undefined;
let state: State = "closed";
let retryMs = 500;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

function setState(s: State) {
  state = s;
  for (const l of stateListeners) l(s);
}

function connect() {
  if (socket || listeners.size === 0) return;
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/admin/events`;
  const ws = new WebSocket(url);
  socket = ws;
  setState("connecting");
  ws.onopen = () => {
    retryMs = 500;
    setState("open");
  };
  ws.onmessage = (m) => {
    let e: LiveEvent;
    try {
      e = JSON.parse(String(m.data)) as LiveEvent;
    } catch {
      return;
    }
    for (const l of listeners) l(e);
  };
  ws.onclose = () => {
    socket = undefined;
    setState("closed");
    if (listeners.size === 0) return;
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };
}

/** Calls `onEvent` for every live event while the component is mounted. */
export function useLiveEvents(onEvent: Listener): void {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => {
    const listener: Listener = (e) => latest.current(e);
    listeners.add(listener);
    connect();
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        clearTimeout(retryTimer);
        socket?.close();
        socket = undefined;
      }
    };
  }, []);
}

/** The live connection's state, for a small indicator in the frame. */
export function useLiveState(): State {
  const [s, set] = useState<State>(state);
  useEffect(() => {
    stateListeners.add(set);
    return () => void stateListeners.delete(set);
  }, []);
  return s;
}
