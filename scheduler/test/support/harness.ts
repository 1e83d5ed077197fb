import { randomBytes } from "node:crypto";
import { BookingSchema, RunSchema, SuiteSchema, type Suite } from "@hil/contracts";
import { z } from "zod";
import { pino, type Logger } from "pino";
import { createSchedulerApp, type SchedulerApp } from "../../src/app.js";
import { staticCatalog, type Catalog } from "../../src/catalog.js";
import { loadSchedulerConfig, type SchedulerConfig } from "../../src/config.js";

export const ADMIN = "admin-token-0123456789";
export const ALICE = "alice-token-0123456789";
export const BOB = "bob-token-0123456789";

/** Agents the test scheduler knows (config tokens `name:agent:…`); a fake agent signs with `agentToken(name)`. */
export const AGENT_NAMES: readonly string[] = ["bench0", "bench1", "bench2", "fair1"];

export function agentToken(name: string): string {
  return `${name}-agent-secret-0123456789`;
}

/** The HIL_TOKENS entries of these agents' credentials. */
export function agentTokens(names: readonly string[] = AGENT_NAMES): string {
  return names.map((n) => `${n}:agent:${agentToken(n)}`).join(",");
}

export function freshNamespace(): string {
  return `t${randomBytes(4).toString("hex")}`;
}

export function suite(name: string, roles: Record<string, string>, artifacts: string[] = []): Suite {
  return SuiteSchema.parse({
    name,
    roles: Object.fromEntries(Object.entries(roles).map(([r, p]) => [r, { profile: p }])),
    artifacts: Object.fromEntries(artifacts.map((a) => [a, { kind: "file" }])),
    timeout: "2m",
    steps: Object.keys(roles).map((role) => ({ type: "send", role, text: "hi" })),
  });
}

export const TEST_CATALOG: Catalog = staticCatalog(
  [suite("smoke", { dut: "esp32-devkitc" }), suite("pair", { dut: "esp32-devkitc", phone: "android-generic" }), suite("needs-app", { dut: "esp32-devkitc" }, ["app"])],
  [
    { id: "esp32-devkitc", kind: "esp32" },
    { id: "esp32-virtual", kind: "esp32" },
    { id: "android-generic", kind: "android" },
    { id: "android-virtual", kind: "android" },
  ],
);

export interface ApiResponse {
  status: number;
  json: unknown;
  text: string;
}

export const ErrorBody = z.object({
  error: z.string(),
  field: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export const RunView = RunSchema.extend({ queue: z.object({ position: z.number(), pending: z.number(), waitingFor: z.string().optional() }).optional() });

export const asError = (r: ApiResponse) => ErrorBody.parse(r.json);
export const asRun = (r: ApiResponse) => RunView.parse(r.json);
export const asBooking = (r: ApiResponse) => BookingSchema.parse(r.json);

export interface Running {
  svc: SchedulerApp;
  url: string;
  config: SchedulerConfig;
  api(path: string, init?: { method?: string; body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<ApiResponse>;
}

export async function startScheduler(
  redisUrl: string,
  namespace: string,
  artifactDir: string,
  extra: Record<string, string> = {},
  opts: { logger?: Logger } = {},
): Promise<Running> {
  const config = loadSchedulerConfig({
    REDIS_URL: redisUrl,
    HIL_NAMESPACE: namespace,
    HIL_ADMIN_TOKEN: ADMIN,
    HIL_TOKENS: `alice:${ALICE},bob:${BOB},${agentTokens()}`,
    HIL_ARTIFACT_DIR: artifactDir,
    HIL_PORT: "0",
    HIL_TICK: "200ms",
    ...extra,
  });
  const svc = createSchedulerApp(config, { catalog: TEST_CATALOG, logger: opts.logger ?? pino({ level: "silent" }) });
  const { url } = await svc.start();
  return { svc, url, config, api: apiClient(url) };
}

export function apiClient(url: string): Running["api"] {
  return async (path, init = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    const token = init.token === undefined ? ADMIN : init.token;
    if (token !== null) headers["authorization"] = `Bearer ${token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(url + path, { method: init.method ?? (init.body !== undefined ? "POST" : "GET"), headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
    return readResponse(res);
  };
}

/** Status, text and (when the text is JSON) the parsed body of an answer. */
export async function readResponse(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
