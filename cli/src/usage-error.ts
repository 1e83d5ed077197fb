export { UsageError } from "@hil/contracts";
