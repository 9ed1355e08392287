/** The shared in-memory store (test/helpers/memory-store.ts), for the runner tests. */
export { MemoryStore } from '../../helpers/memory-store';
