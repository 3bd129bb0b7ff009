/** Builds the Swift client from validated settings (lib/openstack-settings.ts), fetching the credential from its secret source. */
import { openStackEnv, type SwiftSettings } from './openstack-settings.js';
import type { SecretSource } from './secrets.js';
import { swiftAuthFromEnv, type SwiftAuthenticator } from './swift/auth.js';
import { SwiftClient } from './swift/client.js';
import type { Logger } from './log.js';

export async function swiftAuthenticator(settings: SwiftSettings, secrets: SecretSource): Promise<SwiftAuthenticator> {
  return swiftAuthFromEnv(await openStackEnv(settings, secrets));
}

export async function swiftClientFromConfig(settings: SwiftSettings, secrets: SecretSource, logger?: Logger): Promise<SwiftClient> {
  return new SwiftClient({ auth: await swiftAuthenticator(settings, secrets), logger });
}
