import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (e.g. Dovecot) that can freeze connections in the middle of
 * their work, to hold a long job still at a known point without timing: while armed, every connection
 * opened is frozen (both directions stop being read) once the server has sent it `afterBytes`.
 * Connections opened while disarmed are never frozen; `thaw()` lets the frozen ones go on.
 */
export class FreezingProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean; freezeAfter?: number }>();
  private armedAfter: number | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<FreezingProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const proxy = new FreezingProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client: Socket) => proxy.accept(client, target));
    return proxy;
  }

  /** Connections opened from now on freeze once the server has sent them `afterBytes`. */
  arm(afterBytes: number): void {
    this.armedAfter = afterBytes;
  }

  /** Connections opened from now on are not frozen (those frozen already stay so until `thaw`). */
  disarm(): void {
    this.armedAfter = undefined;
  }

  get frozen(): number {
    return [...this.pairs].filter((pair) => pair.frozen).length;
  }

  /**
   * Freezes every connection open now, at once (as a link that stops carrying anything without
   * closing: a cable pulled, a firewall dropping packets), and every connection opened until
   * `thaw()` once the server has greeted it.
   */
  freezeAll(): void {
    this.arm(0);
    for (const pair of this.pairs) {
      if (pair.frozen) continue;
      pair.frozen = true;
      pair.client.pause();
      pair.upstream.pause();
    }
  }

  /**
   * Disarms and closes every connection (frozen ones included) without letting through what they
   * held: the end of a cut long enough for the peers to give the link up. New connections pass.
   */
  dropAll(): void {
    this.disarm();
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Disarms, lets every frozen connection go on where it stopped and freezes none of them again. */
  thaw(): void {
    this.disarm();
    for (const pair of this.pairs) {
      delete pair.freezeAfter;
      if (!pair.frozen) continue;
      pair.frozen = false;
      pair.client.resume();
      pair.upstream.resume();
    }
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    const upstream = createConnection(target);
    const pair: { client: Socket; upstream: Socket; frozen: boolean; freezeAfter?: number } = {
      client,
      upstream,
      frozen: false,
      ...(this.armedAfter !== undefined ? { freezeAfter: this.armedAfter } : {}),
    };
    this.pairs.add(pair);
    let fromServer = 0;
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      fromServer += chunk.length;
      if (pair.freezeAfter !== undefined && fromServer >= pair.freezeAfter && !pair.frozen) {
        pair.frozen = true;
        client.pause();
        upstream.pause();
      }
    });
  }
}
