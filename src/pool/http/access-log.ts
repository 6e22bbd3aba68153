/**
 * Request ids and the access log.
 *
 * - Request id: an incoming `X-Request-Id` is kept when it is a short safe token
 *   ({@link REQUEST_ID_PATTERN}), otherwise the pool makes one (a UUID). It is `req.id` in route
 *   and service code, travels with the inference job to the worker, and goes back to the client in
 *   an `X-Request-Id` header on every response (set in the first onRequest hook, so the setup
 *   gate's 503s, authentication 401s, 404s and errors carry it too).
 * - Access log: one line per HTTP request at info (`cellule.http`, "request"): method, route
 *   pattern (never the raw URL: no ids, no query string; an unmatched path is logged without its
 *   query), status, response time in ms, request id, client address. Never bodies, headers, keys
 *   or cookies. The health poll (`GET /v1/status`) is logged at debug, so it does not drown the log.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { moduleLogger, type Logger } from "../../shared/logger.js";

export const REQUEST_ID_HEADER = "x-request-id";
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Fastify's `genReqId`: the client's `X-Request-Id` when it is a safe token, else a fresh UUID. */
export function genRequestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === "string" && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/** Routes polled for health: logged at debug. */
const QUIET_ROUTES = new Set(["GET /v1/status"]);
/** An unmatched path is logged as received (without query), cut to this length. */
const MAX_PATH = 200;

/** The route pattern (`/v1/projects/:id`), or for an unmatched request its path without query. */
export function routeOf(req: FastifyRequest): string {
  const pattern = req.routeOptions.url;
  if (pattern) return pattern;
  return (req.url.split("?")[0] ?? "").slice(0, MAX_PATH);
}

/** Call first, before any other hook or route, so every response carries the id. */
export function installAccessLog(app: FastifyInstance, log: Logger = moduleLogger("http")): void {
  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    void reply.header(REQUEST_ID_HEADER, req.id);
  });
  app.addHook("onResponse", async (req: FastifyRequest, reply: FastifyReply) => {
    const route = routeOf(req);
    const line = {
      requestId: req.id,
      method: req.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      client: req.ip,
    };
    if (QUIET_ROUTES.has(`${req.method} ${route}`)) log.debug(line, "request");
    else log.info(line, "request");
  });
}
