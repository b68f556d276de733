import { digestSignalType } from '../types.js';

// Example: SHA-1 of the empty file.
export const sha1Signal = digestSignalType('sha1', 40, 'SHA-1 of the file bytes', ['da39a3ee5e6b4b0d3255bfef95601890afd80709'], 'sha1', [{ name: 'sha1' }]);
