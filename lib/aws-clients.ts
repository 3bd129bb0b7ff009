/** AWS SDK clients built once per container from the validated AWS settings. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { IntakeConfig } from './config.js';

export function documentClient(aws: IntakeConfig['aws']): DynamoDBDocumentClient {
  const client = new DynamoDBClient({ region: aws.region, endpoint: aws.dynamodbEndpoint });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function ssmClient(aws: IntakeConfig['aws']): SSMClient {
  return new SSMClient({ region: aws.region });
}
