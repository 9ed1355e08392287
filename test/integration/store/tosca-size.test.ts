/**
 * A catalogue-size TOSCA template (tens of KB) and the RADL it translates to (playbooks inlined) round-trip
 * through the DynamoDB store within its item limits (the large text fields are stored compressed).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { radlToJsonString } from '#radl/index';
import { DynamoInfrastructureStore } from '#store/dynamodb/index';
import { serializeTosca, translateTosca } from '#tosca/index';
import { UrlFetcher } from '#tosca/url-fetcher';
import { startTestDynamo, type TestDynamo } from '../../helpers/dynamo';
import { makeInf } from './fixtures';

const DIR = new URL('../../../../shared/fixtures/tosca/', import.meta.url).pathname;
let db: TestDynamo;
beforeAll(async () => {
  db = await startTestDynamo();
});
afterAll(async () => {
  await db?.stop();
});

it('stores and reads back a 60 KB template and its RADL', async () => {
  const text = readFileSync(`${DIR}templates/oscar+oscar_function.yaml`, 'utf8');
  const { radl, tosca } = await translateTosca(text, { fetcher: new UrlFetcher({ dir: `${DIR}urls` }) });
  // Catalogue templates reach tens of KB: pad the description to ~60 KB of YAML.
  (tosca.doc as Record<string, unknown>).description = 'A long description. '.repeat(3000);
  const stored = serializeTosca(tosca);
  expect(stored.length).toBeGreaterThan(60_000);
  const radlJson = radlToJsonString(radl, 0);
  const store = new DynamoInfrastructureStore({ client: db.client, tableName: db.tableName });
  const inf = { ...makeInf(), tosca: stored, radl: radlJson };
  await store.createInfrastructure(inf);
  const back = await store.getInfrastructure(inf.id);
  expect(back?.tosca).toBe(stored);
  expect(back?.radl).toBe(radlJson);
  const updated = await store.updateInfrastructure(inf.id, back?.version ?? 1, { tosca: `${stored}\n# updated\n` });
  expect((await store.getInfrastructure(inf.id))?.tosca).toBe(updated.tosca);
});
