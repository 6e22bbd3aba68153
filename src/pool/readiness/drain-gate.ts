/**
 * The pool's front door while it drains. Until `close()` it counts the HTTP requests being answered
 * (a streamed answer counts until its last byte has left, or its client has gone). Once it is closed,
 * every new request is refused at once — 503 `pool_shutting_down` with Retry-After, OpenAI's shape
 * under /v1, `Connection: close` so that keep-alive clients move on — before authentication or body
 * parsing; GET /v1/status alone still gets through, to say `draining`. The answers already counted
 * go on, and `whenIdle` tells when the last one has ended.
 */
import { EventEmitter } from "node:events";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../shared/errors.js";

/** Seconds a client refused during the drain is told to wait (another pool, or this one restarted). */
export const DRAIN_RETRY_AFTER_SECONDS = 5;
const STATUS_ROUTE = "/v1/status";

export class DrainGate {
  private open = true;
  private running = 0;
  private readonly events = new EventEmitter();

  /** HTTP requests being answered (a stream counts until it has ended). */
  get inFlight(): number {
    return this.running;
  }

  get draining(): boolean {
    return !this.open;
  }

  /** Adds the hook to the app; call before any route is registered, after the access log's hook. */
  install(app: FastifyInstance): void {
    app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => this.admit(req, reply));
  }

  /** From now on new requests are refused (GET /v1/status excepted). */
  close(): void {
    this.open = false;
  }

  /**
   * Resolves true as soon as no request is in flight, false when `ms` ran out or `abort` fired first.
   */
  whenIdle(ms: number, abort?: AbortSignal): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    if (ms <= 0 || abort?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.events.off("idle", onIdle);
        abort?.removeEventListener("abort", onAbort);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.events.on("idle", onIdle);
      abort?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private admit(req: FastifyRequest, reply: FastifyReply): void {
    if (!this.open) {
      if ((req.method === "GET" || req.method === "HEAD") && req.routeOptions.url === STATUS_ROUTE) return;
      void reply.header("connection", "close");
      throw new AppError("pool_shutting_down", "This pool is shutting down; retry in a few seconds (another pool of the cluster, or this one once restarted).", {
        retryAfterSeconds: DRAIN_RETRY_AFTER_SECONDS,
      });
    }
    this.running++;
    // `close` fires once the response has been sent, or when the connection went away first.
    reply.raw.once("close", () => {
      this.running--;
      if (this.running === 0) this.events.emit("idle");
    });
  }
}
