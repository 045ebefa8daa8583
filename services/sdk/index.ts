export * from './producer.ts';
