/**
 * The batch close timer, shared by the unit that sets it (the intake, when a batch opens) and the one it fires
 * (the batch function), so that neither imports the other. Closes a batch when its window ends, not at the next minute tick: when a batch opens, the intake sets a
 * one-time timer for `createdAt + maxAge` that invokes `batch` with that batch id. The schedule stays as the
 * safety net. In the cloud the timer is an EventBridge Scheduler one-time schedule (`at(...)`), named after
 * the batch (so setting it twice is harmless) and deleted after it fires; locally it is a setTimeout.
 */
import { ConflictException, CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { RetryableError } from './errors.js';

export interface BatchDueTimer {
  closeAt(batchId: string, at: Date): Promise<void>;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next whole second. */
export function atExpression(at: Date): string {
  const whole = new Date(Math.ceil(at.getTime() / 1000) * 1000);
  return `at(${whole.toISOString().slice(0, 19)})`;
}

export class EventBridgeDueTimer implements BatchDueTimer {
  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly target: { batchFunctionArn: string; roleArn: string; groupName?: string },
  ) {}

  async closeAt(batchId: string, at: Date): Promise<void> {
    try {
      await this.scheduler.send(
        new CreateScheduleCommand({
          Name: `close-${batchId}`,
          GroupName: this.target.groupName,
          ScheduleExpression: atExpression(at),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: { Arn: this.target.batchFunctionArn, RoleArn: this.target.roleArn, Input: JSON.stringify({ batchId }) },
        }),
      );
    } catch (error) {
      if (error instanceof ConflictException || (error as { name?: string }).name === 'ConflictException') return;
      throw new RetryableError('could not set the batch close timer', { cause: error });
    }
  }
}

/** The local stack's timer: calls `close(batchId)` at `at` in this process. */
export class LocalDueTimer implements BatchDueTimer {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  constructor(private readonly close: (batchId: string) => Promise<unknown>) {}

  async closeAt(batchId: string, at: Date): Promise<void> {
    if (this.timers.has(batchId)) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(batchId);
        void this.close(batchId).catch(() => undefined);
      },
      Math.max(0, at.getTime() - Date.now()),
    );
    timer.unref();
    this.timers.set(batchId, timer);
  }

  cancelAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
