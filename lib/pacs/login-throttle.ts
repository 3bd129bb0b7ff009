/**
 * Failed-login throttle for the PACS hook: counts failed authentications per source address and per Basic
 * user name in fixed windows; past `maxFailures` in a window, that source or user is refused (429) without
 * checking its credentials until the window ends. In memory, per Lambda container or server process, and
 * bounded to `maxKeys` entries (expired ones go first, then the oldest).
 */
export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxKeys?: number;
  now?: () => number;
}

export interface LoginAttempt {
  source?: string;
  authorization?: string;
}

export interface LoginThrottle {
  /** Seconds until the attempt's source or user may try again; undefined when it may try now. */
  blockedForSecs(attempt: LoginAttempt): number | undefined;
  recordFailure(attempt: LoginAttempt): void;
}

/** The user name of a Basic credential, or undefined for any other scheme. */
export function basicUserOf(authorization: string | undefined): string | undefined {
  const match = /^basic\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}

const keysOf = (attempt: LoginAttempt): string[] => {
  const user = basicUserOf(attempt.authorization);
  return [attempt.source && `source:${attempt.source}`, user !== undefined && `user:${user}`].filter((k): k is string => Boolean(k));
};

export function loginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const windows = new Map<string, { failures: number; endsAt: number }>();

  const prune = () => {
    const at = now();
    for (const [key, window] of windows) if (window.endsAt <= at) windows.delete(key);
    for (const key of windows.keys()) {
      if (windows.size <= maxKeys) break;
      windows.delete(key);
    }
  };

  return {
    blockedForSecs(attempt) {
      const at = now();
      let until = 0;
      for (const key of keysOf(attempt)) {
        const window = windows.get(key);
        if (window && window.endsAt > at && window.failures >= options.maxFailures) until = Math.max(until, window.endsAt);
      }
      return until > at ? Math.ceil((until - at) / 1000) : undefined;
    },
    recordFailure(attempt) {
      const at = now();
      for (const key of keysOf(attempt)) {
        const window = windows.get(key);
        if (window && window.endsAt > at) window.failures++;
        else windows.set(key, { failures: 1, endsAt: at + options.windowMs });
      }
      if (windows.size > maxKeys) prune();
    },
  };
}
