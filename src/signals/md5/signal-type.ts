import { digestSignalType } from '../types.js';

// Example: MD5 of the empty file. HMA calls an MD5 of a video file `video_md5` (its reference configuration).
export const md5Signal = digestSignalType('md5', 32, 'MD5 of the file bytes', ['d41d8cd98f00b204e9800998ecf8427e'], 'md5', [{ name: 'md5', contentTypes: ['photo'] }, { name: 'video_md5', contentTypes: ['video'], default: true }]);
