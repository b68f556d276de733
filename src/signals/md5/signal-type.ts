import { digestSignalType } from '../types.js';

// Example: MD5 of the empty file.
export const md5Signal = digestSignalType('md5', 32, 'MD5 of the file bytes', ['d41d8cd98f00b204e9800998ecf8427e']);
