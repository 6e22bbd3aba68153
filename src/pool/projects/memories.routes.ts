/** /v1/projects/{id}/memories: short facts included in the project's RAG context. */
import { callerOf } from "../http/auth.js";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CreateMemoryBody, DeletedMemory, Memory, MemoryList, MemoryParams, ProjectParams } from "../../protocol/projects.protocol.js";
import type { MemoriesService } from "./memories.service.js";
import { actorOf, type ProjectsService } from "./projects.service.js";

const security = [{ apiKey: [] }];
const tags = ["projects"];

export const memoriesRoutes: FastifyPluginAsyncZod<{ projects: ProjectsService; memories: MemoriesService }> = async (app, { projects, memories }) => {
  app.get("/v1/projects/:id/memories", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "The project's memories, oldest first", tags, params: ProjectParams, response: { 200: MemoryList }, security } }, async (req) => ({
    object: "list" as const,
    data: await memories.list(await projects.access(req.params.id, callerOf(req))),
  }));

  app.post("/v1/projects/:id/memories", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "Add a memory", tags, params: ProjectParams, body: CreateMemoryBody, response: { 201: Memory }, security } }, async (req, reply) => {
    const project = await projects.access(req.params.id, callerOf(req));
    return reply.code(201).send(await memories.create(project, req.body.text, actorOf(callerOf(req))));
  });

  app.delete("/v1/projects/:id/memories/:memoryId", { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Delete a memory", tags, params: MemoryParams, response: { 200: DeletedMemory }, security } }, async (req) => {
    const project = await projects.access(req.params.id, callerOf(req));
    await memories.delete(project, req.params.memoryId, actorOf(callerOf(req)));
    return { id: req.params.memoryId, object: "memory" as const, deleted: true as const };
  });
};
