export type { Config } from "./config.ts";
export { CONFIG_PREFIX, configSchema } from "./config.ts";
