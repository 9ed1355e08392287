/**
 * The journal of running workflow executions (local mode's durable orchestrator): an item per
 * running execution in the {@link EXECUTIONS_PK} partition, written before the execution starts and
 * deleted when it ends. After a crash, a restart lists what is left and resumes it.
 */
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ExecutionJournal, ExecutionRecord } from '#core/types';
import type { Table } from '#store/dynamodb/requests';
import { EXECUTIONS_PK, PARTITION_KEY, SORT_KEY, type ItemType } from '#store/dynamodb/schema';

const key = (id: string) => ({ [PARTITION_KEY]: EXECUTIONS_PK, [SORT_KEY]: id });

export class DynamoExecutionJournal implements ExecutionJournal {
  constructor(private readonly table: Table) {}

  async record(e: ExecutionRecord): Promise<void> {
    await this.table.send(
      new PutCommand({
        TableName: this.table.name,
        Item: { ...key(e.id), _type: 'EXEC' satisfies ItemType, workflow: e.workflow, input: JSON.stringify(e.input), startedAt: e.startedAt, resumes: e.resumes },
      }),
    );
  }

  async resumed(id: string, resumes: number): Promise<void> {
    await this.table.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: key(id),
        UpdateExpression: 'SET resumes = :r',
        ExpressionAttributeValues: { ':r': resumes },
      }),
    );
  }

  async remove(id: string): Promise<void> {
    await this.table.send(new DeleteCommand({ TableName: this.table.name, Key: key(id) }));
  }

  async listRunning(): Promise<ExecutionRecord[]> {
    const items = await this.table.queryAll({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PARTITION_KEY },
      ExpressionAttributeValues: { ':pk': EXECUTIONS_PK },
      ConsistentRead: true,
    });
    return items.map((i) => ({
      id: i[SORT_KEY] as string,
      workflow: i.workflow as ExecutionRecord['workflow'],
      input: JSON.parse(i.input as string) as ExecutionRecord['input'],
      startedAt: Number(i.startedAt),
      resumes: Number(i.resumes ?? 0),
    }));
  }
}
