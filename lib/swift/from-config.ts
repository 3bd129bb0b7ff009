/** Builds the Swift client from validated settings (lib/swift/settings.ts), fetching the credential from its secret source. */
import { openStackEnv, type SwiftSettings } from './settings.js';
import type { SecretSource } from '#lib/secrets.js';
import { swiftAuthFromEnv, type SwiftAuthenticator } from './auth.js';
import { SwiftClient } from './client.js';
import type { Logger } from '#lib/log.js';

export async function swiftAuthenticator(settings: SwiftSettings, secrets: SecretSource): Promise<SwiftAuthenticator> {
  return swiftAuthFromEnv(await openStackEnv(settings, secrets));
}

export async function swiftClientFromConfig(settings: SwiftSettings, secrets: SecretSource, logger?: Logger): Promise<SwiftClient> {
  return new SwiftClient({ auth: await swiftAuthenticator(settings, secrets), logger });
}
