/** Builds the Swift client from validated settings, fetching the credential from its secret source. */
import type { SwiftSettings } from './config.js';
import type { SecretSource } from './secrets.js';
import { KeystoneV3Auth, SwiftClient, TempAuth, type SwiftAuthenticator } from './swift/index.js';
import type { Logger } from './log.js';

export async function swiftAuthenticator(settings: SwiftSettings, secrets: SecretSource): Promise<SwiftAuthenticator> {
  const auth = settings.auth;
  if (auth.kind === 'tempauth') {
    return new TempAuth({ authUrl: auth.authUrl, user: auth.user, key: await secrets.read(auth.key, 'SWIFT_KEY') });
  }
  const secret = await secrets.read(auth.secret, 'Swift credential');
  const userDomain = { name: auth.userDomainName };
  return new KeystoneV3Auth({
    authUrl: auth.authUrl,
    method:
      auth.method === 'password'
        ? { type: 'password', username: auth.username, userDomain, password: secret }
        : auth.method === 'application_credential'
          ? { type: 'application_credential', id: auth.applicationCredentialId, secret }
          : { type: 'token', token: secret },
    project: auth.method === 'application_credential' ? undefined : { name: auth.projectName, domain: { id: auth.projectDomainId } },
    region: auth.region,
  });
}

export async function swiftClientFromConfig(settings: SwiftSettings, secrets: SecretSource, logger?: Logger): Promise<SwiftClient> {
  return new SwiftClient({ auth: await swiftAuthenticator(settings, secrets), logger });
}
