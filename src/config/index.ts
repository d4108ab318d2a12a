/**
 * `mailroom.yaml`: the schema, the loader and the environment overrides.
 * See `README.md` in this folder for a commented example.
 */
export { MailroomConfig, createConfigSchema } from './config-schema.ts';
export type { DomainConfig, MailroomConfigInput, RetryPolicy, TrustedKey } from './config-schema.ts';
export { parseConfig } from './parse-config.ts';
export type { ParseConfigOptions } from './parse-config.ts';
export { loadConfig, parseConfigYaml, DEFAULT_CONFIG_FILE, MAX_CONFIG_ALIASES, MAX_CONFIG_BYTES } from './load-config.ts';
export type { LoadConfigOptions } from './load-config.ts';
export { CONFIG_PATH_VARIABLE } from './env-overrides.ts';
export type { ConfigIssue, Env } from './env-overrides.ts';
export { parseDuration } from './duration.ts';
export type { DurationInput } from './duration.ts';
export { inboxUrlFor } from './inbox-url.ts';
export type { InboxUrl } from './inbox-url.ts';
export { derivePublicUrl } from './public-url.ts';
export { isDomainName } from './config-fields.ts';
export { MANIFEST_SCHEMA, MANIFEST_SUBJECT, ManifestConfig, manifestOf, publicSubjectsOf } from './manifest-config.ts';
export type { Manifest } from './manifest-config.ts';
