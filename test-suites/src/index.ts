export * from "./compat/artifact-kinds.js";
export * from "./compat/profile-fit.js";
export * from "./compat/step-vars.js";
export * from "./loader/suite-loader.js";
export * from "./schema/json-schema.js";
