import { z } from "zod";
import { DeviceProfileSchema } from "./device-profile-schema.js";

/**
 * JSON Schema text for editors (yaml-language-server). Input side, so it describes what people
 * write ("4MB", 0x1000), not the parsed numbers.
 */
export function jsonSchemaText(schema: z.ZodType, title: string): string {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ title, ...json }, null, 2)}\n`;
}

export function deviceProfileJsonSchema(): string {
  return jsonSchemaText(DeviceProfileSchema, "HIL Lab device profile");
}
