import * as net from 'node:net';

type Mode = 'forward' | 'frozen' | 'down';

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Bytes held while frozen, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

/**
 * A TCP proxy a test controls, to play a failing dependency without touching the real one:
 * `freeze()` stops forwarding bytes and holds every socket open (a server that stopped answering,
 * e.g. SIGSTOP), `down()` destroys every socket and refuses new connections (a server that is gone),
 * `resume()` forwards again (held bytes go through, as a thawed server reads its socket buffers).
 */
export class TcpProxy {
  private mode: Mode = 'forward';
  private readonly pairs = new Set<Pair>();
  private server?: net.Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.listen(0);
    return proxy;
  }

  /** `url` with host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.pairs.size;
  }

  freeze(): void {
    this.mode = 'frozen';
  }

  down(): Promise<void> {
    this.mode = 'down';
    for (const pair of this.pairs) this.drop(pair);
    const server = this.server;
    this.server = undefined;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  async resume(): Promise<void> {
    if (this.mode === 'down') await this.listen(this.port);
    this.mode = 'forward';
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connectUpstream(pair);
      this.flush(pair);
    }
  }

  async close(): Promise<void> {
    await this.down();
  }

  private listen(port: number): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'down') {
      client.destroy();
      return;
    }
    const pair: Pair = { client, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      pair.toUpstream.push(chunk);
      this.flush(pair);
    });
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    // A frozen server still completes the TCP handshake (the kernel does) but never answers.
    if (this.mode === 'forward') this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = net.connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      pair.toClient.push(chunk);
      this.flush(pair);
    });
    upstream.on('connect', () => this.flush(pair));
    upstream.on('error', () => this.drop(pair));
    upstream.on('close', () => this.drop(pair));
  }

  private flush(pair: Pair): void {
    if (this.mode !== 'forward' || !this.pairs.has(pair)) return;
    const upstream = pair.upstream;
    if (upstream && !upstream.connecting) {
      for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
    }
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
