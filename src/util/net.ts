/** Small networking helpers shared by the launcher and the tests. */
import { createServer } from 'node:net';

/**
 * A TCP port that is free on `host` right now (the OS picks it). Another process may take it before the
 * caller binds it; the launcher accepts that small race as torchrun does.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
