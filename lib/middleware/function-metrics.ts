/**
 * What each function records per invocation (README "Operations", Metrics), from its lib/ summary or, for the PACS
 * hook, from decorators over its ports. Zero counts are recorded too: a quiet minute is a data point, not a gap.
 */
import type { BatchRunSummary } from '#lib/batch/close.js';
import type { IntakeSummary } from '#lib/intake/event-loop.js';
import { countBy, type MetricSink } from './metrics.js';
import type { PacsHookDeps } from '#lib/pacs/hook.js';
import type { SyncSummary } from '#lib/status/sync.js';

export function recordIntake(sink: MetricSink, summary: IntakeSummary): void {
  let sealedBytes = 0;
  const rejectedReasons: string[] = [];
  for (const outcome of summary.outcomes) {
    if (outcome.status === 'sealed') sealedBytes += outcome.sealedBytes;
    if (outcome.status === 'rejected' || outcome.status === 'malformed') rejectedReasons.push(outcome.reason);
  }
  sink.add('VideosSealed', 'Count', summary.sealed);
  sink.add('SealedBytes', 'Bytes', sealedBytes);
  countBy(sink, 'VideosRejected', 'reason', rejectedReasons);
}

export function recordBatchRun(sink: MetricSink, summary: BatchRunSummary): void {
  const delaysSecs = summary.submitted.flatMap((s) => (s.submitDelaySecs === undefined ? [] : [s.submitDelaySecs]));
  sink.add('BatchesSubmitted', 'Count', delaysSecs.length);
  for (const delaySecs of delaysSecs) sink.add('SubmitDelaySecs', 'Seconds', delaySecs);
  sink.add('OldestUnsubmittedBatchSecs', 'Seconds', summary.oldestUnsubmittedSecs);
}

export function recordSync(sink: MetricSink, summary: Pick<SyncSummary, 'outcomes'>): void {
  const { deferred, backing_off: backingOff, ...polled } = summary.outcomes;
  void deferred;
  void backingOff;
  sink.add(
    'JobsPolled',
    'Count',
    Object.values(polled).reduce((sum, n) => sum + n, 0),
  );
  sink.add('JobsStale', 'Count', summary.outcomes.stale);
  for (const outcome of ['terminal', 'lost'] as const) {
    if (summary.outcomes[outcome] > 0) sink.add('JobsEnded', 'Count', summary.outcomes[outcome], { outcome });
  }
}

/** The hook's deps with `InstancesStored` counted at each stored object and `InstancesRefused` at each refusal, by reason. */
export function meteredPacsDeps(deps: PacsHookDeps, sink: MetricSink): PacsHookDeps {
  const { objects, refusals } = deps;
  return {
    ...deps,
    objects: {
      async put(key, body, contentLength, signal) {
        await objects.put(key, body, contentLength, signal);
        sink.add('InstancesStored', 'Count', 1);
      },
    },
    refusals: {
      async record(tenant, entries) {
        countBy(
          sink,
          'InstancesRefused',
          'reason',
          entries.map((entry) => entry.reason),
        );
        await refusals?.record(tenant, entries);
      },
      recent: (tenant, limit) => refusals?.recent(tenant, limit) ?? Promise.resolve([]),
    },
  };
}
