import { SuiteSchema } from "@hil/contracts";
import { jsonSchemaText } from "@hil/device-profiles";

export function testSuiteJsonSchema(): string {
  return jsonSchemaText(SuiteSchema, "HIL Lab test suite");
}
