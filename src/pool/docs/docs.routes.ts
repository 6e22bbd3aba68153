/** Admin API for the dashboard's Documentation page: the guides (Markdown + HTML) and their branded PDF. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { DocBody, DocId, DocList, DocPdfId } from "../../protocol/docs.protocol.js";
import type { DocsService } from "./docs.service.js";

export const docsRoutes: FastifyPluginAsyncZod<{ docs: DocsService }> = async (app, { docs }) => {
  const security = [{ apiKey: [] }];
  const tags = ["docs"];

  app.get("/v1/admin/docs", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "The guides shipped with this pool", tags, response: { 200: DocList }, security } }, async () => ({ data: await docs.list() }));

  app.get(
    "/v1/admin/docs/:id",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "One guide: its Markdown and the HTML rendered on the pool", tags, params: z.object({ id: DocId }), response: { 200: DocBody }, security } },
    async (req) => docs.rendered(req.params.id),
  );

  app.get(
    "/v1/admin/docs/:id/pdf",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "A guide (or all of them) as a PDF branded with the company name and logo",
        tags,
        params: z.object({ id: DocPdfId }),
        produces: ["application/pdf"],
        security,
      },
    },
    async (req, reply) => {
      const { bytes, filename } = await docs.pdf(req.params.id);
      return reply.header("content-type", "application/pdf").header("content-disposition", `attachment; filename="${filename}"`).header("cache-control", "no-store").send(bytes);
    },
  );
};
