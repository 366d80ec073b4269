import { setFlagsFromString } from 'node:v8';

/*
 * The service's memory: V8 lets the heap grow to several times what is live after each full
 * collection (up to 4 GiB on a machine with more than 16 GiB), so a burst of large requests — a
 * batch of 150 entries of 100 postings is a 1 MiB body — left the process at 700 MiB resident long
 * after the garbage was dead. A smaller growing factor keeps the heap near what is live, without a
 * hard cap that a large export could hit; it costs more frequent full collections, measured in
 * `npm run bench -- ledger`. HEAP_GROWING_PERCENT=0 gives V8 its own heuristics back.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
