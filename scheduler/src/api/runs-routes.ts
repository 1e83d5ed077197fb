import { Router, type Request } from "express";
import { RunRequestSchema, type LogLine } from "@hil/contracts";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Catalog } from "../catalog.js";
import type { SchedulerContext } from "../context.js";
import type { RunLifecycle } from "../dispatch/run-lifecycle.js";
import { ArtifactFetcher } from "../artifacts/artifact-fetcher.js";
import { planRun } from "../runs/run-submission.js";
import { toJUnitXml } from "@hil/contracts";
import { identityOf } from "./authorize.js";
import { assertRequestInScope, assertRunInScope } from "./scope-checks.js";
import { HttpError, parseInput } from "./http-error.js";
import { readMultipart } from "./multipart.js";
import { decodeLogLine, emptyPage, LogFilePager, readStreamPage } from "../logs/run-log-pages.js";
import { RunIdParamSchema, RunListQuerySchema, RunLogQuerySchema } from "./api-schemas.js";

/** Artifact file parts one multipart submit may carry (a suite names a handful). */
const MULTIPART_MAX_FILES = 16;

/** A multipart submit: field `request` (RunRequest JSON) and one file part per artifact name. */
async function readMultipartRun(req: Request, ctx: SchedulerContext): Promise<unknown> {
  const { fields, files } = await readMultipart(req, {
    maxBytes: ctx.config.uploadMaxBytes,
    maxFiles: MULTIPART_MAX_FILES,
    storeFile: (_name, stream) => ctx.artifacts.put(stream),
  });
  const bad = (message: string) => new HttpError(400, "invalid request", { issues: [{ path: "request", message }] });
  const raw = fields.get("request");
  if (raw === undefined) throw bad("multipart submit needs a request field");
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw bad("the request field is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the request field must be a JSON object");
  const given = (body as Record<string, unknown>)["artifacts"];
  if (files.length === 0) return body;
  // fromEntries defines own properties: a part named "__proto__" cannot reach the prototype
  const named = typeof given === "object" && given !== null && !Array.isArray(given) ? Object.entries(given) : [];
  const artifacts = Object.fromEntries([...named, ...files.map((f) => [f.name, { sha256: f.value.sha256, size: f.value.size }] as const)]);
  return { ...body, artifacts };
}

export function runsRoutes(ctx: SchedulerContext, catalog: Catalog, lifecycle: RunLifecycle): Router {
  const r = Router();
  const filePages = new LogFilePager();
  const fetcher = new ArtifactFetcher(ctx.artifacts, {
    maxBytes: ctx.config.uploadMaxBytes,
    timeoutMs: ctx.config.fetchTimeoutMs,
    allowHosts: ctx.config.fetchAllowHosts,
  });
  // The registry barely changes between submits: reuse a snapshot for a second, but never refuse
  // a run on a stale one.
  let cached: { at: number; views: Awaited<ReturnType<typeof ctx.boards.snapshot>> } | undefined;
  const snapshot = async (fresh: boolean) => {
    if (fresh || !cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), views: await ctx.boards.snapshot() };
    return cached.views;
  };

  r.post("/runs", async (req, res) => {
    const raw = req.is("multipart/form-data") ? await readMultipartRun(req, ctx) : req.body;
    const request = parseInput(RunRequestSchema, raw ?? {});
    const me = identityOf(res);
    assertRequestInScope(me, request);
    const plan1 = async (fresh: boolean) => {
      const views = await snapshot(fresh);
      const planned = await planRun(request, me.name, catalog, views, ctx.artifacts, fetcher);
      assertRunInScope(me, request, planned.plan, views);
      return planned;
    };
    const { run, plan } = await plan1(false).catch((err: unknown) => {
      // a fresh board snapshot may help; an artifact refusal would only be fetched (and waited for) again
      const field = err instanceof HttpError ? String(err.extra["field"] ?? "") : "";
      if (err instanceof HttpError && err.status === 422 && !field.startsWith("artifacts.")) return plan1(true);
      throw err;
    });
    await ctx.runs.create(run, plan);
    ctx.wake();
    res.status(201).location(`/api/v1/runs/${run.id}`).json(run);
  });

  r.get("/runs", async (req, res) => {
    const q = parseInput(RunListQuerySchema, req.query, "query");
    const out = await ctx.runs.list({
      limit: q.limit,
      ...(q.state ? { states: q.state } : {}),
      ...(q.submitter ? { submitter: q.submitter } : {}),
      ...(q.suite ? { suite: q.suite } : {}),
      ...(q.board ? { board: q.board } : {}),
      ...(q.commit ? { commit: q.commit } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    res.json({ runs: out.runs, ...(out.nextCursor !== undefined ? { nextCursor: out.nextCursor } : {}) });
  });

  r.get("/runs/:id", async (req, res) => {
    const { id } = parseInput(RunIdParamSchema, req.params, "params");
    const s = await ctx.runs.get(id);
    if (!s) throw new HttpError(404, `no run ${id}`);
    if (s.run.state !== "queued") return void res.json(s.run);
    const [rank, pending, reason] = await Promise.all([
      ctx.redis.zrank(ctx.keys.pending(), id),
      ctx.redis.zcard(ctx.keys.pending()),
      ctx.redis.hget(ctx.keys.waitingReasons(), id),
    ]);
    const waitingFor = reason ?? s.run.waitingFor;
    res.json({
      ...s.run,
      ...(waitingFor ? { waitingFor } : {}),
      queue: { position: rank === null ? 0 : rank + 1, pending, ...(waitingFor ? { waitingFor } : {}) },
    });
  });

  r.post("/runs/:id/cancel", async (req, res) => {
    const { id } = parseInput(RunIdParamSchema, req.params, "params");
    const run = await lifecycle.stop(id, "cancelled", `cancelled by ${identityOf(res).name}`);
    if (!run) throw new HttpError(404, `no run ${id}`);
    res.json(run);
  });

  r.get("/runs/:id/junit", async (req, res) => {
    const { id } = parseInput(RunIdParamSchema, req.params, "params");
    const s = await ctx.runs.get(id);
    if (!s) throw new HttpError(404, `no run ${id}`);
    let xml: string;
    try {
      xml = await readFile(join(ctx.artifacts.runDir(id), "junit.xml"), "utf8");
    } catch {
      xml = toJUnitXml({ name: s.run.request.suite, runId: id, steps: s.run.steps, cases: s.run.cases, ...(s.run.startedAt ? { startedAt: s.run.startedAt } : {}) });
    }
    res.type("application/xml").send(xml);
  });

  r.get("/runs/:id/log", async (req, res) => {
    const { id } = parseInput(RunIdParamSchema, req.params, "params");
    const q = parseInput(RunLogQuerySchema, req.query, "query");
    if (!(await ctx.runs.get(id))) throw new HttpError(404, `no run ${id}`);
    const file = join(ctx.artifacts.runDir(id), "log.jsonl");
    const warnSkipped = (skipped: number, where: string) => {
      if (skipped > 0) ctx.log.warn({ run: id, skipped }, `skipped malformed entries of the run's ${where}`);
    };
    if (q.before !== undefined || q.after !== undefined || q.limit !== undefined) {
      const limit = q.limit ?? 1000;
      const want = q.before !== undefined ? { before: q.before, limit } : q.after !== undefined ? { after: q.after, limit } : { limit };
      // The stream while it lives (a run still logging, or ended within the retention), so a reader keeps one kind
      // of cursor; the file only once the stream has expired.
      const key = ctx.keys.runLog(id);
      const fromStream = (await ctx.redis.exists(key)) === 1;
      const page = fromStream ? await readStreamPage(ctx.redis, key, want) : ((await filePages.read(file, want)) ?? emptyPage(want));
      const { skipped, ...body } = page;
      warnSkipped(skipped, fromStream ? "log stream" : "log.jsonl");
      return void res.json(body);
    }
    const text = await readFile(file, "utf8").catch(() => undefined);
    let lines: LogLine[];
    if (text === undefined) {
      lines = await lifecycle.readRunLog(id);
    } else {
      const raw = text.split("\n").filter(Boolean);
      lines = raw.map(decodeLogLine).filter((l): l is LogLine => l !== undefined);
      warnSkipped(raw.length - lines.length, "log.jsonl");
    }
    if (q.format === "json") return void res.json(lines);
    res.type("text/plain").send(lines.map((l) => l.text).join("\n") + (lines.length ? "\n" : ""));
  });

  return r;
}
