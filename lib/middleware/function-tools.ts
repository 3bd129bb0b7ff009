/**
 * One Powertools Logger, Metrics and Tracer per function, and the project's `Logger` and `MetricSink` over them.
 * `log.child(fields)` binds fields per call on the one Powertools Logger rather than copying it (Powertools'
 * `createChild`), so loggers built once per container still carry each invocation's request id and cold-start flag.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
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

/**
 * Built at module scope in functions/<name>.ts. The level is POWERTOOLS_LOG_LEVEL or the functions' LOG_LEVEL, in
 * either case (Powertools itself takes only upper case); an invalid LOG_LEVEL is the function config's error to name.
 */
export function functionTools(functionName: string, env: Record<string, string | undefined> = process.env): FunctionTools {
  const logger = new PowertoolsLogger({ serviceName: SERVICE_NAME, logLevel: logLevelOf(env), persistentKeys: { function: functionName } });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: { function: functionName } });
  const tracer = new Tracer({ serviceName: SERVICE_NAME });
  traceAwsClients(tracer);
  return { logger, metrics, tracer, log: loggerView(logger, {}), metricSink: metricSinkOf(metrics) };
}

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

function logLevelOf(env: Record<string, string | undefined>): LogLevel | undefined {
  const level = (env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL)?.toUpperCase();
  return LOG_LEVELS.find((known) => known === level);
}

export function loggerView(logger: PowertoolsLogger, bound: LogFields): Logger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => logger[level](message, { ...bound, ...fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (fields) => loggerView(logger, { ...bound, ...fields }) };
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
