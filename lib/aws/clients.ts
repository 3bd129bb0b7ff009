/** AWS SDK clients built once per container from the validated AWS settings, traced in Lambda (lib/aws/tracing.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { AwsSettings } from '#lib/config.js';
import type { ParameterStore } from '#lib/secrets.js';
import { traced } from './tracing.js';

export function documentClient(aws: AwsSettings): DynamoDBDocumentClient {
  const client = traced(new DynamoDBClient({ region: aws.region, endpoint: aws.dynamodbEndpoint }));
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function ssmParameters(aws: AwsSettings): ParameterStore {
  const ssm = traced(new SSMClient({ region: aws.region }));
  return {
    async secureString(name) {
      const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      return answer.Parameter?.Value;
    },
  };
}

export function schedulerClient(aws: AwsSettings): SchedulerClient {
  return traced(new SchedulerClient({ region: aws.region }));
}
