/** S3 ObjectCreated:* on the intake bucket → seal each video into its tenant's open batch in Swift. */
import middy from '@middy/core';
import { buildOnce } from '../lib/once.js';
import type { Context, S3Event } from 'aws-lambda';
import { intakeConfig } from '../lib/config.js';
import { buildIntakeDeps } from '../lib/intake/wiring.js';
import { ingestS3Event, type IntakeSummary } from '../lib/intake/records.js';

const intakeDeps = buildOnce(() => buildIntakeDeps(intakeConfig()));

export const handler = middy<S3Event, IntakeSummary, Error, Context>().handler(async (event, _context, { signal }) =>
  ingestS3Event(event, await intakeDeps(), signal),
);
