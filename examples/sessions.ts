/**
 * A login session store on TTLs: a session lives `ttl` seconds after its last use, and logging out removes it.
 * Run a cluster (`npm start`), then:
 * node examples/dist/sessions.js [host:port …]   (default: the three nodes of `npm start`)
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionError, KVClient } from '@kvdb/client';

type Session = { user: string; since: string };

const nodes =
  process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:5878', '127.0.0.1:5879', '127.0.0.1:5880'];
const kv = new KVClient({ nodes });

/** Sessions of `ttl` seconds, kept under `session:<token>`. */
class SessionStore {
  constructor(readonly ttl: number) {}

  /** A new session for `user`; resolves with its token, the one thing the browser keeps (in a cookie). */
  async login(user: string): Promise<string> {
    const token = randomUUID();
    const session: Session = { user, since: new Date().toISOString() };
    await kv.set(`session:${token}`, session, { ttl: this.ttl });
    return token;
  }

  /**
   * The session of `token`, its expiry pushed `ttl` seconds on (a sliding expiry), or `null` once it has expired
   * or logged out. `ifPresent` keeps a session that expired or logged out in the meantime from coming back.
   */
  async use(token: string): Promise<Session | null> {
    const key = `session:${token}`;
    const session = await kv.get<Session>(key);
    if (session === null) return null;
    return (await kv.set(key, session, { ttl: this.ttl, ifPresent: true })) ? session : null;
  }

  /** Seconds the session has left, or `null` when it has none. */
  async secondsLeft(token: string): Promise<number | null> {
    return (await kv.ttl(`session:${token}`)).ttl;
  }

  /** Ends the session; resolves with whether there was one (`pop` removes and answers in one call). */
  async logout(token: string): Promise<boolean> {
    return (await kv.pop(`session:${token}`)) !== null;
  }
}

const left = (seconds: number | null) => (seconds === null ? 'none' : `${seconds.toFixed(1)} s`);

try {
  const sessions = new SessionStore(2);
  const ada = await sessions.login('ada');
  console.log(`ada logged in: ${ada}, ${left(await sessions.secondsLeft(ada))} left`);
  await sleep(1_000);
  console.log(`after 1 s idle: ${left(await sessions.secondsLeft(ada))} left`);
  console.log('ada uses the site:', await sessions.use(ada));
  console.log(`refreshed: ${left(await sessions.secondsLeft(ada))} left`);

  console.log('ada is idle for 2.5 s…');
  await sleep(2_500);
  const expired = await sessions.use(ada);
  console.log('ada comes back:', expired ?? 'session expired, please log in again');

  const bo = await sessions.login('bo');
  console.log(`bo logged in: ${(await sessions.use(bo))?.user}; logs out: ${await sessions.logout(bo)}`);
  console.log('bo comes back:', (await sessions.use(bo)) ?? 'logged out, please log in again');
  // Exit non-zero if either outlived its end, so that the tests can tell.
  if (expired !== null || (await sessions.use(bo)) !== null) process.exitCode = 1;
} catch (error) {
  if (!(error instanceof ConnectionError)) throw error;
  console.error(`Is the cluster running? ${error.message}`);
  process.exitCode = 1;
} finally {
  await kv.close();
}
