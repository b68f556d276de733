/**
 * The hashing worker's entry point (bundle it as its own file: the demo serves it as
 * /demo/client/worker.js). Messages: { id, input, options } → { id, result } or { id, error }.
 */
import { hashHere, type HashInput, type HashOptions } from './hash.js';

interface Scope {
  addEventListener(type: 'message', listener: (event: { data: { id: number; input: HashInput; options?: HashOptions } }) => void): void;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as Scope;

scope.addEventListener('message', (event) => {
  const { id, input, options } = event.data;
  hashHere(input, options).then(
    (result) => scope.postMessage({ id, result }),
    (err: unknown) => scope.postMessage({ id, error: err instanceof Error ? err.message : String(err) }),
  );
});
