/**
 * A container's dependencies, built on first use and kept for the container's life. A failed build (an SSM
 * outage, say) is not cached: the next invocation tries again.
 */
export function buildOnce<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}
