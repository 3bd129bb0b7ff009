/** dynalite for `npm run bench -- sync`, in its own process (the real DynamoDB is a remote service too). */
import { startLocalDynamo } from '#local/dynamodb-local.js';

const dynamo = await startLocalDynamo({ tableName: 'radiomics' });
process.stdout.write(`${dynamo.endpoint}\n`);
process.on('disconnect', () => void dynamo.close().finally(() => process.exit(0)));
