/** The DynamoDB adapter of the store port: what composition roots, tools and tests import. */
export { DynamoInfrastructureStore, type DynamoStoreOptions } from '#store/dynamodb/store';
export { DynamoExecutionJournal } from '#store/dynamodb/executions';
export { createTable } from '#store/dynamodb/table';
export { createDynamoClient, storeClient, LOCAL_CREDENTIALS, type DynamoClientOptions } from '#store/dynamodb/client';
export { LOG_CHUNK_BYTES } from '#store/dynamodb/logs';
export { splitUtf8, COMPRESS_ABOVE_BYTES } from '#store/dynamodb/items';
export { isUnavailable, type TableHealth } from '#store/dynamodb/requests';
