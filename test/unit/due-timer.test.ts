/** EventBridge Scheduler has no local implementation, so its client is mocked here (aws-sdk-client-mock). */
import { describe, it, expect, beforeEach } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { ConflictException, CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { EventBridgeDueTimer, LocalDueTimer, atExpression } from '#lib/due-timer.js';
import { RetryableError } from '#lib/errors.js';

const scheduler = mockClient(SchedulerClient);
const target = {
  batchFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:radiomics-batch',
  roleArn: 'arn:aws:iam::111122223333:role/sched',
};

beforeEach(() => {
  scheduler.reset();
});

describe('batch close timer', () => {
  it('writes at() in UTC, rounded up to the second', () => {
    expect(atExpression(new Date('2026-11-25T10:00:00.000Z'))).toBe('at(2026-11-25T10:00:00)');
    expect(atExpression(new Date('2026-11-25T10:00:00.001Z'))).toBe('at(2026-11-25T10:00:01)');
  });

  it('creates one self-deleting one-time schedule named after the batch, invoking batch with its id', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:x' });
    await new EventBridgeDueTimer(new SchedulerClient({ region: 'eu-west-1' }), target).closeAt(
      '0123abcd',
      new Date('2026-11-25T10:10:00Z'),
    );
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      Name: 'close-0123abcd',
      GroupName: undefined,
      ScheduleExpression: 'at(2026-11-25T10:10:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: target.batchFunctionArn, RoleArn: target.roleArn, Input: '{"batchId":"0123abcd"}' },
    });
  });

  it('treats an existing schedule of the same name as set (a duplicate intake)', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new ConflictException({ Message: 'exists', message: 'exists', $metadata: {} }));
    await expect(
      new EventBridgeDueTimer(new SchedulerClient({ region: 'eu-west-1' }), target).closeAt('b', new Date()),
    ).resolves.toBeUndefined();
  });

  it('turns any other failure into a retryable error', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new Error('throttled'));
    await expect(
      new EventBridgeDueTimer(new SchedulerClient({ region: 'eu-west-1' }), target).closeAt('b', new Date()),
    ).rejects.toBeInstanceOf(RetryableError);
  });

  it('the local timer fires once per batch at its time', async () => {
    const fired: string[] = [];
    const timer = new LocalDueTimer(async (id) => fired.push(id));
    const soon = new Date(Date.now() + 30);
    await timer.closeAt('b1', soon);
    await timer.closeAt('b1', soon);
    await timer.closeAt('b2', new Date(Date.now() + 60_000));
    await new Promise((resolve) => setTimeout(resolve, 80));
    timer.cancelAll();
    expect(fired).toEqual(['b1']);
  });
});
