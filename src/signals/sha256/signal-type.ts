import { digestSignalType } from '../types.js';

// Example: SHA-256 of the empty file.
export const sha256Signal = digestSignalType('sha256', 64, 'SHA-256 of the file bytes', ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'], 'sha256', [{ name: 'sha256' }]);
