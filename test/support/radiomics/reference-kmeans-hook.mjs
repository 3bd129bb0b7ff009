const REFERENCE = new URL('./kmeans-reference.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  return /\/enclave\/radiomics\/kmeans\.(ts|js)$/.test(resolved.url) ? { ...resolved, url: REFERENCE } : resolved;
}
