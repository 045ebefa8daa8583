export { type AvroContract, avroToZod } from './avro-to-zod.ts';
export type { AvroInput, AvroOutput } from './avro-types.ts';
export { type ContractIssue, contractIssues, describeIssues, formatPath } from './issues.ts';
