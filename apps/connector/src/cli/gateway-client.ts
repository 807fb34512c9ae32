/**
 * The gateway's HTTP API as the command line uses it (search, restore, job status). The CLI runs on
 * the customer's side next to the connector, but searching and starting restores are cloud actions
 * of a person: they go through the gateway with that person's token, exactly as the console would.
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface GatewayClientOptions {
  /** e.g. `https://mlr.example.net` (MLR_GATEWAY_URL). */
  url: string;
  /** Bearer token of the person asking (MLR_TOKEN). */
  token?: string;
  /** Default 30 s. */
  timeoutMs?: number;
}

export class GatewayClient {
  private readonly base: URL;

  constructor(private readonly options: GatewayClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new GatewayError(0, `gateway URL "${options.url}" is not a URL (e.g. https://mlr.example.net)`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new GatewayError(0, `gateway URL "${options.url}" must start with http:// or https://`);
    }
    this.base = base;
  }

  async get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new GatewayError(0, `cannot reach the gateway at ${this.base.origin}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new GatewayError(
        response.status,
        `${method} ${url.pathname}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const reason = parsed as { message?: unknown; field?: unknown } | undefined;
      const message = Array.isArray(reason?.message) ? reason.message.join('; ') : String(reason?.message ?? text);
      const field = typeof reason?.field === 'string' ? ` (${reason.field})` : '';
      throw new GatewayError(response.status, `${method} ${url.pathname}: HTTP ${response.status}: ${message}${field}`);
    }
    return parsed as T;
  }
}
