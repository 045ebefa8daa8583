// Worker threads do not inherit the TypeScript loader the process was started with (Node 20 loads a
// worker's entry before its --import hooks): register it here, then load the TypeScript entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
