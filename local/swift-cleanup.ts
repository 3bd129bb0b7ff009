/** Removes test and benchmark containers with their objects; a container that was never created is skipped. */
import type { SwiftClient } from '#lib/swift/index.js';

export async function removeContainers(swift: SwiftClient, containers: readonly string[]): Promise<void> {
  for (const container of containers) {
    const names: string[] = [];
    try {
      for await (const entry of swift.listAllObjects(container)) names.push(entry.name);
    } catch {
      // never created
    }
    for (const name of names) await swift.deleteObject(container, name, { ignoreMissing: true }).catch(() => undefined);
    await swift.deleteContainer(container, { ignoreMissing: true }).catch(() => undefined);
  }
}
