import { describe, it, expect } from '@jest/globals';
import { blockRunningSums, cumulativeSearch, exactCumulativeSearch } from '#enclave/radiomics/kmeans.js';

/**
 * The k-means++ cumulative search decides from approximate block sums and falls back to OpenCV's exact sequential
 * computation only near a tie: it must return exactly what the sequential loop returns, for every r.
 */
describe('k-means++ cumulative search', () => {
  // deterministic xorshift
  let state = 0x9e3779b9;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };

  function check(dist: Float32Array, activeGroup: Int32Array, activeCount: number, n: number, rs: number[]): void {
    const active = new Int32Array(activeCount);
    for (let a = 0; a < activeCount; a++) active[a] = a * 2 + 1; // sample indices of the active entries
    const blockSums = new Float64Array(Math.ceil(activeCount / 32) + 1);
    const total = blockRunningSums(dist, activeGroup, activeCount, blockSums);
    for (const r of rs) {
      expect(cumulativeSearch(r, total, n, blockSums, active, activeGroup, activeCount, dist)).toBe(
        exactCumulativeSearch(r, n, active, activeGroup, activeCount, dist),
      );
    }
  }

  it('matches the sequential loop on random distances, including zeros and huge/tiny values', () => {
    for (let trial = 0; trial < 40; trial++) {
      const u = 1 + Math.floor(rand() * 300);
      const dist = new Float32Array(u);
      for (let g = 0; g < u; g++) {
        const kind = rand();
        dist[g] = kind < 0.1 ? 0 : kind < 0.2 ? rand() * 1e-30 : kind < 0.3 ? rand() * 1e6 : rand() * 100;
      }
      const activeCount = 1 + Math.floor(rand() * 2000);
      const activeGroup = new Int32Array(activeCount);
      for (let a = 0; a < activeCount; a++) activeGroup[a] = Math.floor(rand() * u);
      const rs = [0, 1 - 2 ** -53, 0.5, 2 ** -60];
      for (let j = 0; j < 200; j++) rs.push(rand());
      check(dist, activeGroup, activeCount, activeCount * 2 + 1, rs);
    }
  });

  it('matches the sequential loop when p lands exactly on (or next to) a running sum', () => {
    for (let trial = 0; trial < 20; trial++) {
      const activeCount = 50 + Math.floor(rand() * 500);
      const dist = new Float32Array(activeCount);
      for (let a = 0; a < activeCount; a++) dist[a] = rand() < 0.2 ? 1 : Math.fround(rand() * 10);
      const activeGroup = Int32Array.from({ length: activeCount }, (_, a) => a);
      let sum0 = 0;
      for (let a = 0; a < activeCount; a++) sum0 += dist[a];
      // r such that r·sum0 is the running sum at some index, or one ulp around it: the fallback decides
      const rs: number[] = [];
      let running = 0;
      for (let a = 0; a < activeCount; a++) {
        running += dist[a];
        if (a % 7 !== 0) continue;
        const r = running / sum0;
        rs.push(r, r * (1 + 2 ** -52), r * (1 - 2 ** -52), Math.min(r * (1 + 1e-12), 1 - 2 ** -53));
      }
      check(
        dist,
        activeGroup,
        activeCount,
        activeCount * 2 + 1,
        rs.filter((r) => r >= 0 && r < 1),
      );
      // the last sample's index N − 1 is never chosen: ci stays N − 1
      check(
        dist,
        activeGroup,
        activeCount,
        activeCount * 2 - 1,
        rs.filter((r) => r >= 0 && r < 1),
      );
    }
  });

  it('returns 0 when every distance is 0 and N − 1 when p is never reached', () => {
    const dist = new Float32Array([0, 0, 5]);
    check(dist, Int32Array.from([0, 1, 0]), 3, 9, [0.3, 0.9]);
    check(dist, Int32Array.from([2, 2, 2]), 3, 9, [0.999999, 1 - 2 ** -53]);
  });
});
