/**
 * The few Web platform types the client uses. The project compiles without the DOM library (it is a Node
 * service), so these are declared structurally here and looked up on globalThis at run time.
 */
export interface ImageDataLike {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface ImageBitmapLike {
  readonly width: number;
  readonly height: number;
  close(): void;
}

interface Canvas2D {
  drawImage(image: ImageBitmapLike, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number, settings?: { colorSpace?: string }): ImageDataLike;
}

interface OffscreenCanvasLike {
  getContext(kind: '2d', options?: { willReadFrequently?: boolean; colorSpace?: string }): Canvas2D | null;
}

export interface WorkerLike {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: { data?: unknown; message?: string }) => void): void;
}

export interface WebGlobals {
  createImageBitmap?: (source: Blob | ImageDataLike, options?: Record<string, string>) => Promise<ImageBitmapLike>;
  OffscreenCanvas?: new (width: number, height: number) => OffscreenCanvasLike;
  ImageBitmap?: abstract new () => ImageBitmapLike;
  ImageData?: abstract new (...args: never[]) => ImageDataLike;
  Worker?: new (url: string | URL, options?: { type?: 'module' | 'classic'; name?: string }) => WorkerLike;
  navigator?: { hardwareConcurrency?: number };
}

export const web = globalThis as unknown as WebGlobals;
