/**
 * The pure heart of ingest (body shape, limits, hostile-input checks, contract validation) lives in
 * services/core/contracts/batch.ts, shared with the producer SDK; this module keeps ingest's own path.
 */
export * from '../core/contracts/batch.ts';
