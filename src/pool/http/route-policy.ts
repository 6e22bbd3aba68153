/**
 * Who may call a route, declared on the route itself: `config: { auth, setup, license }` in its
 * route options (type RoutePolicy). `installRoutePolicy` reads it once per route, from an onRoute
 * hook on the root app, and adds that route's hooks:
 * - onRequest, first the setup gate (`setup: "gated"`: 503 `cluster_setup_pending`, or a 307 to the
 *   wizard for a browser, until setup is complete), then authentication (`auth: "apiKey"|"admin"`),
 *   both before the body is read, so an anonymous caller gets 401, never a 400 about its body;
 * - preValidation, peer authentication (`auth: "peer"|"trustedPeer"`), which needs the raw body;
 * - preHandler, last, the license gate (`license: "gated"`): a mutation asks the license, after
 *   authentication, so an anonymous caller never learns about the license.
 * A route without a policy makes the app refuse to start. The routes that plugins register for us
 * (Swagger UI, static assets) get theirs from PLUGIN_ROUTES. Unknown paths (the 404 handler) are
 * behind the setup gate too, except under the wizard's and the API docs' prefixes (/setup/, /docs/),
 * where an unknown path answers 404 during setup as it did before the gate.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { Authenticator } from "./auth.js";
import { isReadMethod } from "./methods.js";

/**
 * open: anyone. apiKey: an API key of any scope, or the dashboard's admin session. admin: an
 * admin session or an admin-scoped key. peer: a request signed by a bonded pool (any trust).
 * trustedPeer: the same, from a pool trusted for replication.
 */
export type AuthPolicy = "open" | "apiKey" | "admin" | "peer" | "trustedPeer";
/** open: answers while first-boot setup is pending. gated: 503 (or 307 to the wizard) until it is complete. */
export type SetupPolicy = "open" | "gated";
/**
 * gated: a mutation (anything but GET, HEAD, OPTIONS) is refused with 402 while the license is
 * expired, revoked or invalid; reads always pass. exempt: never asks the license (inference,
 * search, login, the license and setup routes, pool-to-pool traffic, erasure, revocations).
 */
export type LicensePolicy = "exempt" | "gated";

export interface RoutePolicy {
  auth: AuthPolicy;
  setup: SetupPolicy;
  license: LicensePolicy;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthPolicy;
    setup?: SetupPolicy;
    license?: LicensePolicy;
  }
}

type Hook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RoutePolicyDeps {
  /** The setup gate's onRequest hook (setup-gate.ts). */
  setupGate: Hook;
  auth: Pick<Authenticator, "apiKey" | "admin">;
  /** Peer authentication at preValidation (peer-auth.ts), by trust. */
  peer: Hook;
  trustedPeer: Hook;
  /** The license gate's preHandler (license.gate.ts). */
  licenseGate: Hook;
}

/** Open, also during setup, never gated: what a plugin serves without route options of ours. */
const OPEN: RoutePolicy = { auth: "open", setup: "open", license: "exempt" };

/** Routes registered by plugins: the Swagger UI and its JSON (@fastify/swagger-ui), the web app's hashed assets (@fastify/static). */
export const PLUGIN_ROUTES: ReadonlyArray<{ prefix: string; policy: RoutePolicy }> = [
  { prefix: "/docs", policy: OPEN },
  { prefix: "/setup/assets/", policy: OPEN },
];

/** Prefixes under which an unknown path answers 404 during setup (the wizard's, the API docs'). */
const OPEN_PREFIXES_DURING_SETUP = ["/setup/", "/docs/"];

const isUnder = (url: string, prefix: string) => url === prefix || url.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`);

/** One route as the installer saw it: its policy, declared in its options or taken from PLUGIN_ROUTES. */
export interface PolicedRoute {
  methods: string[];
  url: string;
  policy: RoutePolicy;
  from: "route" | "plugin";
}

/** The route's declared policy; throws when it has none (every field must be given). */
export function policyOf(route: Pick<RouteOptions, "url" | "method" | "config">): { policy: RoutePolicy; from: PolicedRoute["from"] } {
  const c = route.config ?? {};
  if (c.auth !== undefined && c.setup !== undefined && c.license !== undefined) return { policy: { auth: c.auth, setup: c.setup, license: c.license }, from: "route" };
  const plugin = c.auth === undefined && c.setup === undefined && c.license === undefined ? PLUGIN_ROUTES.find((p) => isUnder(route.url, p.prefix)) : undefined;
  if (plugin) return { policy: plugin.policy, from: "plugin" };
  const methods = Array.isArray(route.method) ? route.method.join(",") : route.method;
  throw new Error(`Route ${methods} ${route.url} declares no complete policy: give it config: { auth, setup, license } (src/pool/http/route-policy.ts).`);
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const policed = new WeakMap<FastifyInstance, PolicedRoute[]>();

/** Every route registered on this app since installRoutePolicy, with its policy (for tests and audits). */
export function policedRoutes(app: FastifyInstance): readonly PolicedRoute[] {
  return policed.get(app) ?? [];
}

/** Installs the policy hooks on the root app. Call before any route (a plugin's included) is registered. */
export function installRoutePolicy(app: FastifyInstance, deps: RoutePolicyDeps): void {
  const seen: PolicedRoute[] = [];
  policed.set(app, seen);
  const authHook: Record<AuthPolicy, Hook | undefined> = { open: undefined, apiKey: deps.auth.apiKey, admin: deps.auth.admin, peer: undefined, trustedPeer: undefined };
  const peerHook: Record<AuthPolicy, Hook | undefined> = { open: undefined, apiKey: undefined, admin: undefined, peer: deps.peer, trustedPeer: deps.trustedPeer };
  app.addHook("onRoute", (route) => {
    const { policy, from } = policyOf(route);
    const methods = asArray(route.method);
    seen.push({ methods, url: route.url, policy, from });
    route.config = { ...route.config, ...policy };
    const onRequest = [policy.setup === "gated" ? deps.setupGate : undefined, authHook[policy.auth]].filter((h) => h !== undefined);
    // New arrays (never mutated in place): Fastify clones a GET's options for its HEAD route.
    if (onRequest.length > 0) route.onRequest = [...onRequest, ...asArray(route.onRequest)];
    const peer = peerHook[policy.auth];
    if (peer) route.preValidation = [peer, ...asArray(route.preValidation)];
    if (policy.license === "gated" && !methods.every(isReadMethod)) route.preHandler = [...asArray(route.preHandler), deps.licenseGate];
  });
  // Unknown paths have no route options: the 404 handler is behind the setup gate, but for the
  // prefixes whose routes are open during setup.
  app.addHook("onRequest", async (req, reply) => {
    if (req.is404 && !OPEN_PREFIXES_DURING_SETUP.some((p) => isUnder(req.url.split("?")[0] ?? "", p))) await deps.setupGate(req, reply);
  });
}
