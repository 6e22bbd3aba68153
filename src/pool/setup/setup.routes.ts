/**
 * /setup/*: the wizard's API (open while setup is pending; mutations answer 409 once it is done).
 * Per-field failures are StepInvalid errors, rendered by the error handler as 400
 * `{error: "invalid_step", message, step, fields, codes}`.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { InvalidStepBody, SetupCompleted, SetupStateBody, StepSaved, STEP_NAMES } from "../../protocol/setup.protocol.js";
import type { SetupService } from "./setup.service.js";
import { AppError } from "../../shared/errors.js";

export const setupRoutes: FastifyPluginAsyncZod<{ setup: SetupService }> = async (app, { setup }) => {
  const tags = ["setup"];
  const body = z.record(z.string(), z.unknown()).describe("the step's fields (see docs/setup.md)");

  app.get("/setup", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { hide: true } }, async (_req, reply) => reply.redirect("/setup/ui", 307));

  app.get("/setup/state", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "Wizard state (steps saved so far; only `completed` once setup is done)", tags, response: { 200: SetupStateBody } } }, async (_req, reply) => {
    reply.header("cache-control", "no-store");
    return setup.state();
  });

  app.post(
    "/setup/step/:name",
    { config: { auth: "open", setup: "open", license: "exempt" },
      schema: {
        summary: "Validate and store one wizard step",
        description: `Steps: ${STEP_NAMES.join(", ")}. 409 once setup is complete.`,
        tags,
        params: z.object({ name: z.string().max(40) }),
        body,
        response: { 200: StepSaved, 400: InvalidStepBody },
      },
    },
    async (req) => setup.saveStep(req.params.name, req.body),
  );

  app.post("/setup/complete", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "Complete setup from the stored steps (creates the admin account)", tags, response: { 200: SetupCompleted, 400: InvalidStepBody } } }, async () =>
    setup.complete({ actor: "setup:wizard", via: "wizard" }),
  );

  app.post(
    "/setup/apply",
    { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "Unattended install: every step at once, then completion", tags, body, response: { 200: SetupCompleted, 400: InvalidStepBody } } },
    async (req) => setup.apply(req.body, { actor: "setup:apply", via: "api" }),
  );

  app.get("/setup/logo", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "The company logo (sanitised SVG, PNG or JPEG)", tags } }, async (_req, reply) => {
    const logo = await setup.logo();
    if (!logo) throw new AppError("not_found", "No logo has been uploaded.");
    // Served as an image only: no script may run even if the file is opened directly.
    return reply
      .header("content-type", logo.mime)
      .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .header("x-content-type-options", "nosniff")
      .header("cache-control", "no-cache")
      .send(logo.bytes);
  });
};
