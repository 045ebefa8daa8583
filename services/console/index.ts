export { type ConsoleProject, consoleModule, type RecentEntitySource } from './module.ts';
export { createStatusProvider, runReadOnlyQuery } from './status.ts';
