/** S3 ObjectCreated:* on the intake bucket → seal each video into its tenant's open batch in Swift. */
import type { S3Event } from 'aws-lambda';
import { intakeConfig } from '#lib/intake/config.js';
import { recordIntake } from '#lib/middleware/function-metrics.js';
import { buildIntakeDeps } from '#lib/intake/wiring.js';
import { ingestS3Event, type IntakeSummary } from '#lib/intake/event-loop.js';
import { eventFunction } from '#lib/middleware/event-function.js';
import { functionTools } from '#lib/middleware/function-tools.js';
import { buildOnce } from '#lib/middleware/once.js';

const tools = functionTools('intake');
const intakeDeps = buildOnce(() => buildIntakeDeps(intakeConfig(), { log: tools.log }));

export const handler = eventFunction<S3Event, IntakeSummary>(tools, async (event, _context, { signal }) => {
  const summary = await ingestS3Event(event, await intakeDeps(), signal);
  recordIntake(tools.metricSink, summary);
  return summary;
});
