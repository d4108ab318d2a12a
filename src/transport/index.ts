/**
 * Transport: NATS connection, names, server features, provisioning, embedded server.
 */
export { connectNats, natsSecurity, redactUrl, type ConnectNatsOptions, type NatsAuthOptions, type NatsTlsOptions } from './connect.ts';
export {
  createNames,
  decodeKeyToken,
  decodeToken,
  encodeKeyToken,
  encodeToken,
  InvalidNameError,
  type Names,
  type ParsedKey,
  type ParsedSubject,
  type StreamKind,
} from './names.ts';
export {
  compareVersions,
  featureMinVersions,
  featuresForVersion,
  isAtLeast,
  parseVersion,
  serverInfo,
  type SemVer,
  type ServerFeature,
  type ServerFeatures,
} from './server-info.ts';
export { provision, ProvisionDrift, type InboxProvisionOptions, type ProvisionOptions, type ProvisionPlacement, type Provisioned } from './provision.ts';
export { startEmbeddedNatsServer, type EmbeddedNatsServer, type EmbeddedNatsServerOptions } from './embedded-server.ts';
export { natsServerInstallHint } from './spawn-nats-server.ts';
