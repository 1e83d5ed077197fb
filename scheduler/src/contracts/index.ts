export * from "@hil/contracts";
