/**
 * One Powertools Logger, Metrics and Tracer per function, and the project's `Logger` and `MetricSink` over them.
 * `log.child(fields)` binds fields per call on the one Powertools Logger rather than copying it (Powertools'
 * `createChild`), so loggers built once per container still carry each invocation's request id and cold-start flag.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { powertoolsLogLevel, type Env } from '#lib/config.js';
import type { LogFields, Logger } from '#lib/log.js';
import type { MetricSink } from './metrics.js';
import { traceAwsClients } from '#lib/aws/tracing.js';

export const SERVICE_NAME = 'trustworthy-radiomics';
export const METRICS_NAMESPACE = 'TrustworthyRadiomics';

export interface FunctionTools {
  logger: PowertoolsLogger;
  metrics: Metrics;
  tracer: Tracer;
  log: Logger;
  metricSink: MetricSink;
}

/** Built at module scope in functions/<name>.ts; the level from the process environment unless `env` is given (lib/config.ts). */
export function functionTools(functionName: string, env?: Env): FunctionTools {
  const logger = new PowertoolsLogger({
    serviceName: SERVICE_NAME,
    logLevel: powertoolsLogLevel(env),
    persistentKeys: { function: functionName },
  });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { function: functionName } });
  const tracer = new Tracer({ serviceName: SERVICE_NAME });
  traceAwsClients(tracer);
  return { logger, metrics, tracer, log: loggerView(logger, {}), metricSink: metricSinkOf(metrics) };
}

export function loggerView(logger: PowertoolsLogger, bound: LogFields): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) =>
    logger[level](message, { ...bound, ...fields });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => loggerView(logger, { ...bound, ...fields }),
  };
}

/** Undimensioned metrics join the invocation's EMF record; dimensioned ones go out at once as their own record. */
export function metricSinkOf(metrics: Metrics): MetricSink {
  return {
    add(name, unit, value, dimensions) {
      if (!dimensions) {
        metrics.addMetric(name, unit, value);
        return;
      }
      const single = metrics.singleMetric();
      single.addDimensions(dimensions);
      single.addMetric(name, unit, value);
    },
  };
}
