/**
 * The metrics port: lib/ units and handlers record through `MetricSink`; in Lambda it writes CloudWatch EMF through
 * Powertools Metrics (lib/middleware/function-tools.ts), elsewhere `noMetrics` drops them. Names: README "Operations".
 */
export type MetricUnit = 'Count' | 'Bytes' | 'Seconds';
export type MetricDimensions = Record<string, string>;

export interface MetricSink {
  add(name: string, unit: MetricUnit, value: number, dimensions?: MetricDimensions): void;
}

export const noMetrics: MetricSink = { add() {} };

/** Adds one count per distinct value of `dimension` (e.g. rejected videos by reason). */
export function countBy(sink: MetricSink, name: string, dimension: string, values: Iterable<string>): void {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  for (const [value, count] of counts) sink.add(name, 'Count', count, { [dimension]: value });
}
