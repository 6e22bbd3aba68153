/**
 * The HTTP app for buildPool: Fastify with the hooks every route depends on, in this order —
 * the access log (every response, setup gate, 401s and 404s included, carries X-Request-Id), zod
 * validation, plain JSON serialisation, the error renderer, the raw body capture of peer-signed
 * federation requests, and the per-address budget of failed authentications. `installPolicy` then
 * adds the route policy (http/route-policy.ts) and the OpenAPI description with the Swagger UI at
 * /docs, before any route. Its routes serve the web UI (wizard and dashboard).
 */
import Fastify, { type FastifyInstance } from "fastify";
import rateLimit from "@fastify/rate-limit";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { PoolConfig } from "../../config/pool.config.js";
import { moduleLogger } from "../../shared/logger.js";
import { registerApiDocs } from "./api-docs.js";
import { installRawBodyCapture } from "../federation/peer-auth.js";
import type { Feature } from "../feature.js";
import { genRequestId, installAccessLog } from "./access-log.js";
import { AuthThrottle } from "./auth-throttle.js";
import { clientAddressResolver, type ClientAddressOf } from "./client-address.js";
import { installErrorHandling } from "./error-handler.js";
import { installRoutePolicy, type RoutePolicyDeps } from "./route-policy.js";
import { webUiRoutes } from "./web-ui.routes.js";

export interface HttpDeps {
  config: Pick<PoolConfig, "maxBodyBytes" | "authFailureLimit" | "authFailureWindowMs" | "trustedProxies">;
}

export interface Http extends Feature {
  app: FastifyInstance;
  /** Per-address budget of failed authentications, checked before any Argon2 work. */
  throttle: AuthThrottle;
  /** The client's address of a raw request (WebSocket upgrades), with the trust list req.ip uses. */
  clientAddress: ClientAddressOf;
  /**
   * Installs the route policy (every route registered afterwards gets its hooks; a route without a
   * policy stops the pool) and then the API docs, which see every route. Call before any route.
   */
  installPolicy(deps: RoutePolicyDeps): Promise<void>;
  routes(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

export async function buildHttp(deps: HttpDeps): Promise<Http> {
  const { config } = deps;
  // Fastify's own logger stays off: the access log is one line per request from `cellule.http`.
  // req.ip is the X-Forwarded-For client only behind a proxy of CELLULE_TRUSTED_PROXIES (none by default).
  const trustProxy = config.trustedProxies.length > 0 ? [...config.trustedProxies] : false;
  const app = Fastify({ logger: false, genReqId: genRequestId, bodyLimit: config.maxBodyBytes, forceCloseConnections: true, trustProxy }).withTypeProvider<ZodTypeProvider>();
  // First hooks: every response (setup gate, 401s and 404s included) carries X-Request-Id.
  installAccessLog(app);
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; serialisation stays plain JSON (fast, no re-validation).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, moduleLogger("pool"));
  // Peer-signed federation requests are verified over their exact body bytes.
  installRawBodyCapture(app);
  // Not a global limit: only the authentication code draws on it (AuthThrottle).
  await app.register(rateLimit, { global: false });
  const throttle = AuthThrottle.on(app, { max: config.authFailureLimit, windowMs: config.authFailureWindowMs });
  return {
    app,
    throttle,
    clientAddress: clientAddressResolver(config.trustedProxies),
    async installPolicy(policy) {
      installRoutePolicy(app, policy);
      // The OpenAPI description and the Swagger UI at /docs (own security headers).
      await registerApiDocs(app);
    },
    async routes(a) {
      await a.register(webUiRoutes);
    },
    async close() {
      await app.close();
    },
  };
}
