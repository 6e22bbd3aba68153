/** Admin settings API: every runtime option with its rule, text and recommendations; change one (applied at once). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Setting, SettingKeyParams, SettingsView, UpdateSettingBody } from "../../protocol/settings.protocol.js";
import { adminOf } from "../http/auth.js";
import type { SettingsService } from "./settings.service.js";

export const settingsRoutes: FastifyPluginAsyncZod<{ settings: SettingsService }> = async (app, { settings }) => {
  const security = [{ apiKey: [] }];
  const tags = ["settings"];

  app.get("/v1/admin/settings", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Runtime settings by category, with descriptions and recommendations per profile", tags, response: { 200: SettingsView }, security } }, () => settings.view());

  app.put(
    "/v1/admin/settings/:key",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Change a setting: validated, saved, audited and applied at once (no restart)", tags, params: SettingKeyParams, body: UpdateSettingBody, response: { 200: Setting }, security } },
    (req) => settings.apply(req.params.key, req.body.value, adminOf(req).actor),
  );
};
