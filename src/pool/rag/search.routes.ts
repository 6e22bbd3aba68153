/** POST /v1/projects/{id}/search: hybrid retrieval over the project's documents. */
import { callerOf } from "../http/auth.js";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ProjectParams, SearchBody, SearchResponse } from "../../protocol/projects.protocol.js";
import type { ProjectsService } from "../projects/projects.service.js";
import { actorOf } from "../projects/projects.service.js";
import type { ProjectSearch } from "./project-search.service.js";

export const searchRoutes: FastifyPluginAsyncZod<{ projects: ProjectsService; search: ProjectSearch }> = async (app, { projects, search }) => {
  app.post(
    "/v1/projects/:id/search",
    { config: { auth: "apiKey", setup: "gated", license: "exempt" },
      schema: {
        summary: "Hybrid search (vector KNN + full text, fused by reciprocal rank) over the project's documents",
        tags: ["documents"],
        params: ProjectParams,
        body: SearchBody,
        response: { 200: SearchResponse },
        security: [{ apiKey: [] }],
      },
    },
    async (req) => search.run(await projects.access(req.params.id, callerOf(req)), req.body, actorOf(callerOf(req))),
  );
};
