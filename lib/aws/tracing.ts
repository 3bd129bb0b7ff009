/**
 * X-Ray around AWS SDK clients. In Lambda, lib/middleware/function-tools.ts hands the Powertools Tracer to
 * `traceAwsClients` once per container, and every client built through `traced` becomes a source of subsegments;
 * elsewhere (CLI, local stack, tests) clients are left as they are.
 */
let instrument = <C>(client: C): C => client;

export function traceAwsClients(tracer: { captureAWSv3Client<C>(client: C): C }): void {
  instrument = (client) => tracer.captureAWSv3Client(client);
}

export function traced<C>(client: C): C {
  return instrument(client);
}
