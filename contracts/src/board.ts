import { z } from "zod";

/** `unauthorized`: an Android device that refuses this agent's adb key (accept it on the device); like `offline`, never dispatched to. */
export const BoardStateSchema = z.enum(["idle", "leased", "booked", "flashing", "running", "offline", "unauthorized", "quarantined"]);
export type BoardState = z.infer<typeof BoardStateSchema>;

const hex4 = z.string().regex(/^[0-9a-fA-F]{4}$/, "must be 4 hex digits, e.g. 10c4");

/** What can be measured about a physical board; a board is matched and re-checked by these. */
export const BoardIdentitySchema = z
  .object({
    usbVendorId: hex4.optional(),
    usbProductId: hex4.optional(),
    serialNumber: z.string().min(1).optional(),
    portPath: z.string().min(1).optional(),
    mac: z
      .string()
      .regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, "must be a lowercase MAC like a0:b0:11:22:33:44")
      .optional(),
    adbSerial: z.string().min(1).optional(),
    /** Android: ro.product.model and ro.product.name as registered; re-checked before each run. */
    model: z.string().min(1).optional(),
    product: z.string().min(1).optional(),
  })
  .strict();
export type BoardIdentity = z.infer<typeof BoardIdentitySchema>;

export const BoardIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "lowercase letters, digits, '.', '_' or '-', at most 63 characters");

export const BoardSchema = z
  .object({
    id: BoardIdSchema,
    profile: z.string().min(1),
    agent: z.string().min(1),
    identity: BoardIdentitySchema,
    state: BoardStateSchema,
    labels: z.record(z.string(), z.string()).default({}),
    /** Where a client reaches the board's port (device path, rfc2217://…, adb serial). */
    endpoint: z.string().optional(),
    virtual: z.boolean().default(false),
    /** 0..100; drops on infrastructure failures, recovers on clean runs. */
    health: z.number().min(0).max(100).default(100),
    currentRun: z.string().optional(),
    holder: z.string().optional(),
    /** When the holder's active booking ends (epoch ms), and which booking it is. */
    holderUntil: z.number().int().optional(),
    booking: z.string().optional(),
    /** Set by the scheduler when its view differs from the agent's report, e.g. why a board shows offline. */
    note: z.string().optional(),
    updatedAt: z.number().int().nonnegative(),
  })
  .strict();
export type Board = z.infer<typeof BoardSchema>;
