/** Types of scripts/serve-examples.mjs (the browser example's static server), for the tests. */
/** Content types by file extension. */
export declare const MIME: Record<string, string>;

export declare const ISOLATION_HEADERS: {
  'Cross-Origin-Opener-Policy': 'same-origin';
  'Cross-Origin-Embedder-Policy': 'require-corp';
};

export interface ExampleServer {
  /** e.g. http://127.0.0.1:8080 */
  origin: string;
  /** The example page: `${origin}/examples/browser/`. */
  url: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1:`port` (default 8080; 0 = a free port). */
export declare function startServer(port?: number): Promise<ExampleServer>;
