/**
 * The OpenAPI description (@fastify/swagger) and its Swagger UI page at /docs, served by the pool
 * itself (no CDN). The page and its assets are open (also during setup), so they carry their own
 * security headers: no MIME sniffing, and a Content-Security-Policy that lets the page run only
 * the pool's own scripts and styles, talk only to the pool, and never be framed.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { VERSION } from "../../shared/version.js";

export const API_DOCS_PREFIX = "/docs";

/**
 * What the Swagger UI page needs and nothing more: its scripts and stylesheets from the pool
 * ('self'); inline styles, which the UI sets on its own elements; data: images (its logo and
 * icons); the spec fetched from /docs/json ('self').
 */
export const API_DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: "Cellule pool API", version: VERSION, description: "OpenAI-compatible inference and pool administration." },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(async (docs) => {
    // Registered inside this child context, so the hook covers the UI's routes and static files only.
    docs.addHook("onSend", async (_req, reply) => {
      reply.header("x-content-type-options", "nosniff");
      reply.header("content-security-policy", API_DOCS_CSP);
      reply.header("referrer-policy", "no-referrer");
    });
    await docs.register(swaggerUi, { routePrefix: API_DOCS_PREFIX });
  });
}
