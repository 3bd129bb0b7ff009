/** What each function records per invocation, from its lib/ summary (exact names, units, values, dimensions). */
import { describe, it, expect } from '@jest/globals';
import { Readable } from 'node:stream';
import { meteredPacsDeps, recordBatchRun, recordIntake, recordSync } from '#lib/middleware/function-metrics.js';
import type { MetricSink } from '#lib/middleware/metrics.js';
import type { PacsHookDeps } from '#lib/pacs/hook.js';

function recorder() {
  const lines: string[] = [];
  const sink: MetricSink = {
    add: (name, unit, value, dimensions) => lines.push(`${name} ${value} ${unit}${dimensions ? ` ${JSON.stringify(dimensions)}` : ''}`),
  };
  return { lines, sink };
}

describe('function metrics', () => {
  it('intake: sealed videos and their bytes, rejected ones by reason (malformed records included)', () => {
    const { lines, sink } = recorder();
    recordIntake(sink, {
      records: 5,
      sealed: 2,
      duplicates: 0,
      rejected: 2,
      malformed: 1,
      superseded: 0,
      outcomes: [
        { status: 'sealed', videoId: 'a', batchId: 'b', sealedBytes: 1000 },
        { status: 'sealed', videoId: 'c', batchId: 'b', sealedBytes: 28 },
        { status: 'rejected', videoId: 'd', reason: 'not_a_video' },
        { status: 'rejected', videoId: 'e', reason: 'not_a_video' },
        { status: 'malformed', reason: 'malformed_event', record: 4 },
      ],
    });
    expect(lines).toEqual([
      'VideosSealed 2 Count',
      'SealedBytes 1028 Bytes',
      'VideosRejected 2 Count {"reason":"not_a_video"}',
      'VideosRejected 1 Count {"reason":"malformed_event"}',
    ]);
  });

  it("batch: batches this run submitted, each one's delay after its close (earlier submissions not counted again), and the oldest still unsubmitted", () => {
    const { lines, sink } = recorder();
    const submitted = [
      { batchId: 'a', jobId: 'j1', submitDelaySecs: 61.5 },
      { batchId: 'b', jobId: 'j0' },
    ];
    recordBatchRun(sink, { batches: 3, steps: {}, submitted, oldestUnsubmittedSecs: 1900 });
    expect(lines).toEqual(['BatchesSubmitted 1 Count', 'SubmitDelaySecs 61.5 Seconds', 'OldestUnsubmittedBatchSecs 1900 Seconds']);
  });

  it('sync-status: jobs polled (not deferred or backing off), stale, and ended by outcome', () => {
    const { lines, sink } = recorder();
    const outcomes = { updated: 3, unchanged: 4, terminal: 2, stale: 1, backing_off: 5, not_found: 1, lost: 0, superseded: 0, deferred: 7 };
    recordSync(sink, { outcomes });
    expect(lines).toEqual(['JobsPolled 11 Count', 'JobsStale 1 Count', 'JobsEnded 2 Count {"outcome":"terminal"}']);
  });

  it('pacs-hook: each stored object counts once, each refusal by its reason, and refusals still reach the log', async () => {
    const { lines, sink } = recorder();
    const recorded: string[] = [];
    const deps = meteredPacsDeps(
      {
        objects: { put: async () => undefined },
        refusals: {
          record: async (_tenant: string, entries: { reason: string }[]) => void recorded.push(...entries.map((e) => e.reason)),
          recent: async () => [],
        },
      } as unknown as PacsHookDeps,
      sink,
    );
    await deps.objects.put('t/dicom/1.dcm', Readable.from([]), 0);
    await deps.refusals!.record('t', [
      { route: 'stow', reason: 'not_dicom', status: 409 },
      { route: 'stow', reason: 'not_dicom', status: 409 },
    ]);
    expect(lines).toEqual(['InstancesStored 1 Count', 'InstancesRefused 2 Count {"reason":"not_dicom"}']);
    expect(recorded).toEqual(['not_dicom', 'not_dicom']);
  });
});
