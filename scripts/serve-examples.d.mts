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

export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Send COOP/COEP (default true); false shows the page's one-thread fallback. */
  isolated?: boolean;
}

/** Starts the server on `host`:`port` (default 127.0.0.1:8080; 0 = a free port). */
export declare function startServer(port?: number, options?: ServeOptions): Promise<ExampleServer>;

/** The command line (`[port] [--port N] [--host H] [--no-isolation]`); null after --help. */
export declare function main(argv?: string[], log?: (line: string) => void): Promise<ExampleServer | null>;
