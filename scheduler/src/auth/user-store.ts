import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";
import type { RedisClient } from "@hil/lab-protocol/redis";
import { decodeJson, type LabKeys } from "@hil/contracts";
import { z } from "zod";
import { PersonRoleSchema } from "./roles.js";

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));

// OWASP's scrypt floor (N=2^17, r=8, p=1) costs 128 MiB per check; 2^15 keeps a burst of sign-ins
// within memory on a small server while staying far beyond what a GPU farm enjoys against SHA-256.
const PARAMS = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEYLEN = 32;

export const UserRecordSchema = z
  .object({
    name: z.string(),
    role: PersonRoleSchema,
    /** `scrypt$N$r$p$<salt b64>$<key b64>` */
    password: z.string().startsWith("scrypt$"),
    createdAt: z.number().int(),
    createdBy: z.string(),
    disabledAt: z.number().int().optional(),
  })
  .strict();
export type UserRecord = z.infer<typeof UserRecordSchema>;
export type UserView = Omit<UserRecord, "password">;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [tag, n, r, p, salt, key] = stored.split("$");
  if (tag !== "scrypt" || !n || !r || !p || salt === undefined || key === undefined) return false;
  const expected = Buffer.from(key, "base64");
  const got = await scrypt(password, Buffer.from(salt, "base64"), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: PARAMS.maxmem });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

// A sign-in for an unknown name still pays for one scrypt, so timing does not tell which names exist.
let dummyHash: Promise<string> | undefined;

/** Local accounts for people (the dashboard signs in with them); passwords stored as scrypt hashes. */
export class UserStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async create(input: { name: string; role: UserRecord["role"]; password: string; createdBy: string }, now = Date.now()): Promise<UserView | undefined> {
    const record: UserRecord = { name: input.name, role: input.role, password: await hashPassword(input.password), createdAt: now, createdBy: input.createdBy };
    const created = await this.redis.hsetnx(this.keys.users(), input.name, JSON.stringify(record));
    return created === 1 ? view(record) : undefined;
  }

  async get(name: string): Promise<UserRecord | undefined> {
    return decodeJson(UserRecordSchema, await this.redis.hget(this.keys.users(), name));
  }

  async list(): Promise<UserView[]> {
    const all = await this.redis.hgetall(this.keys.users());
    return Object.values(all)
      .flatMap((raw) => {
        const record = decodeJson(UserRecordSchema, raw);
        return record ? [view(record)] : [];
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async update(name: string, change: { role?: UserRecord["role"]; password?: string; disabled?: boolean }, now = Date.now()): Promise<UserView | undefined> {
    const current = await this.get(name);
    if (!current) return undefined;
    const next: UserRecord = { ...current };
    if (change.role) next.role = change.role;
    if (change.password !== undefined) next.password = await hashPassword(change.password);
    if (change.disabled === true) next.disabledAt = current.disabledAt ?? now;
    if (change.disabled === false) delete next.disabledAt;
    await this.redis.hset(this.keys.users(), name, JSON.stringify(next));
    return view(next);
  }

  async remove(name: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.users(), name)) === 1;
  }

  /** The account when the password is right and the account is enabled; undefined otherwise. */
  async verify(name: string, password: string): Promise<UserView | undefined> {
    const record = await this.get(name);
    if (!record) {
      dummyHash ??= hashPassword(randomBytes(12).toString("hex"));
      await verifyPassword(password, await dummyHash);
      return undefined;
    }
    const ok = await verifyPassword(password, record.password);
    return ok && record.disabledAt === undefined ? view(record) : undefined;
  }
}

function view(r: UserRecord): UserView {
  const { password: _password, ...rest } = r;
  return rest;
}
