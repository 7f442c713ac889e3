// A real OpenID provider on loopback for the sign-in tests: the npm package oidc-provider
// (installed by scripts/ensure-test-deps under target/tools/node_modules), with its
// development log-in and consent pages (any login, any password).
//
//   node provider.mjs NODE_MODULES_DIR
//
// Prints `listening http://127.0.0.1:PORT`, then reads one JSON line on stdin — the clients
// ({client_id, client_secret, redirect_uris}) and the accounts by login ({email,
// email_verified, name}; the subject is the login) — and prints `ready` once it serves them. Paperfeed's address is
// known only after the issuer's is, hence the two steps. Exits when stdin closes.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const modules = process.argv[2];
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider/lib/index.js')).href
);

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
console.log(`listening ${issuer}`);

const lines = createInterface({ input: process.stdin });
const first = await new Promise((resolve) => lines.once('line', resolve));
const { clients, accounts } = JSON.parse(first);

const provider = new Provider(issuer, {
  clients,
  // The development interactions: a log-in form taking any login, then a consent page.
  features: { devInteractions: { enabled: true } },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  cookies: { keys: ['paperfeed-test-cookie-key'] },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = accounts[id] ?? { email: `${id}@example.org`, email_verified: false, name: id };
    return {
      accountId: id,
      async claims() {
        return { ...account, sub: id, preferred_username: id };
      },
    };
  },
});
// Quiet: the tests read paperfeed's answers, not the provider's warnings.
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
server.on('request', provider.callback());
console.log('ready');

lines.on('close', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
