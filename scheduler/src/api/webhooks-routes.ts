import { Router } from "express";
import { z } from "zod";
import { can } from "../auth/roles.js";
import type { SchedulerContext } from "../context.js";
import { literalHostRefused, webhookUrlProblem } from "../webhooks/webhook-url.js";
import { MAX_WEBHOOKS_PER_OWNER, webhookView } from "../webhooks/webhook-store.js";
import { auditNote, identityOf } from "./authorize.js";
import { HttpError, parseInput } from "./http-error.js";

export const WebhookCreateBodySchema = z
  .object({
    url: z.string().superRefine((v, ctx) => {
      const problem = webhookUrlProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    secret: z.string().min(16, "use at least 16 characters").max(256, "use at most 256 characters"),
  })
  .strict();

export const WebhookIdParamSchema = z.object({ id: z.uuid("a webhook id (see GET /api/v1/webhooks)") });

/**
 * Webhooks for the caller's own runs (docs/webhooks.md): each run the caller submits is posted, signed with
 * the secret given here, to the URL when it ends. The lab's own webhooks (HIL_WEBHOOKS) are configuration.
 */
export function webhooksRoutes(ctx: SchedulerContext): Router {
  const r = Router();

  r.post("/webhooks", async (req, res) => {
    const body = parseInput(WebhookCreateBodySchema, req.body ?? {});
    const refused = literalHostRefused(new URL(body.url), ctx.config.webhookAllowHosts);
    if (refused) {
      throw new HttpError(400, "invalid request", {
        issues: [{ path: "url", message: `the host is ${refused}; webhooks go only to public addresses unless the lab's HIL_WEBHOOK_ALLOW_HOSTS names the host` }],
      });
    }
    const owner = identityOf(res).name;
    if ((await ctx.webhookStore.list(owner)).length >= MAX_WEBHOOKS_PER_OWNER) {
      throw new HttpError(409, `${owner} has ${MAX_WEBHOOKS_PER_OWNER} webhooks already; delete one first (DELETE /api/v1/webhooks/ID)`);
    }
    const record = await ctx.webhookStore.create({ owner, url: body.url, secret: body.secret });
    auditNote(res, { target: record.id, detail: { url: record.url } });
    res.status(201).json(webhookView(record));
  });

  r.get("/webhooks", async (_req, res) => {
    const me = identityOf(res);
    const hooks = await ctx.webhookStore.list(can(me.role, "admin") ? undefined : me.name);
    res.json({ webhooks: hooks.map(webhookView) });
  });

  r.delete("/webhooks/:id", async (req, res) => {
    const { id } = parseInput(WebhookIdParamSchema, req.params, "params");
    const me = identityOf(res);
    const hook = await ctx.webhookStore.get(id);
    // someone else's webhook is as unknown as a missing one
    if (!hook || (hook.owner !== me.name && !can(me.role, "admin"))) throw new HttpError(404, `no webhook ${id} of yours; see GET /api/v1/webhooks`);
    await ctx.webhookStore.remove(id);
    auditNote(res, { detail: { url: hook.url, owner: hook.owner } });
    res.status(204).end();
  });

  return r;
}
