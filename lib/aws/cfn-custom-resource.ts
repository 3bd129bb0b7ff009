/**
 * The CloudFormation custom-resource protocol: the stack sends Create, Update and Delete requests, and waits
 * (up to an hour) until the function PUTs SUCCESS or FAILED to the request's pre-signed ResponseURL. Every request
 * is answered, failures included, so a broken change fails the deploy instead of hanging it.
 */
export interface CustomResourceRequest {
  RequestType: 'Create' | 'Update' | 'Delete';
  ResponseURL: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceProperties: Record<string, unknown>;
}

export type Respond = (url: string, body: string) => Promise<void>;

export async function putResponse(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'PUT', headers: { 'content-type': '' }, body, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`CloudFormation refused the response (${res.status})`);
}

/** Runs `change` for the request and reports its outcome to CloudFormation; the reason never carries secrets. */
export async function answerCustomResource(
  request: CustomResourceRequest,
  physicalResourceId: string,
  change: () => Promise<void>,
  respond: Respond = putResponse,
): Promise<'SUCCESS' | 'FAILED'> {
  let status: 'SUCCESS' | 'FAILED' = 'SUCCESS';
  let reason: string | undefined;
  try {
    await change();
  } catch (error) {
    status = 'FAILED';
    reason = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : 'failed';
  }
  const body = {
    Status: status,
    Reason: reason,
    PhysicalResourceId: request.PhysicalResourceId ?? physicalResourceId,
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
  };
  await respond(request.ResponseURL, JSON.stringify(body));
  return status;
}
