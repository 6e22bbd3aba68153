/**
 * The web front end (web/, built by Vite into dist/web at `npm run build`): one single-page app
 * served by the pool itself (no CDN, works air-gapped). Its hashed assets live under
 * /setup/assets/ so the setup gate lets them through; the page is served at /setup/ui (wizard)
 * and /admin, /admin/* (login now, the dashboard's pages later — the app routes on the path).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync, FastifyReply } from "fastify";

// src/pool/http/ and dist/pool/http/ both sit three levels under the package root.
export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../dist/web");

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join("; ");

export const webUiRoutes: FastifyPluginAsync<{ webDir?: string }> = async (app, opts) => {
  const webDir = opts.webDir ?? WEB_DIR;
  const indexPath = join(webDir, "index.html");

  if (existsSync(join(webDir, "assets"))) {
    await app.register(fastifyStatic, { root: join(webDir, "assets"), prefix: "/setup/assets/", decorateReply: false, immutable: true, maxAge: "365d", index: false, wildcard: true });
  }

  const page = async (_req: unknown, reply: FastifyReply) => {
    // Read at each request (600 bytes): a rebuild while the pool runs never leaves stale asset names.
    const index = existsSync(indexPath) ? readFileSync(indexPath) : undefined;
    if (!index) return reply.code(503).type("text/plain; charset=utf-8").send("The web interface is not built: run `npm run build` (it builds dist/web).");
    return reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", CSP)
      .header("x-frame-options", "DENY")
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .header("cache-control", "no-store")
      .send(index);
  };
  // The wizard's page answers during setup; the dashboard's is behind the setup gate (a 307 to the wizard).
  for (const url of ["/setup/ui", "/setup/ui/*"]) app.get(url, { config: { auth: "open", setup: "open", license: "exempt" }, schema: { hide: true } }, page);
  for (const url of ["/admin", "/admin/*"]) app.get(url, { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { hide: true } }, page);
};
