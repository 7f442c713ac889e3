// A deliberately misbehaving OpenID issuer on loopback, for the ID-token checks a real
// provider never fails: it answers every authorization request at once (no log-in page) and
// signs the ID token as told by `POST /mode` (one word):
//
//   good       signed with the published key, for the asking client
//   expired    expired ten minutes ago
//   audience   issued to another client
//   signature  signed with a key it does not publish, under the published key's id
//   rotate     signed with a new key, published from now on (key rotation)
//   unknown    signed with a key it never publishes, under an id it never published
//
//   node fake-issuer.mjs NODE_MODULES_DIR
//
// Prints `listening http://127.0.0.1:PORT`. `GET /stats` counts JWKS and token requests.
// Codes are good once (PKCE S256 checked). Under /github/ it plays GitHub: OAuth 2.0 and
// /api/user, /api/user/emails. Exits when stdin closes.
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const modules = process.argv[2];
const jose = await import(pathToFileURL(join(modules, 'jose/dist/webapi/index.js')).href);

const keyPair = async (kid) => {
  const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
};
const published = await keyPair('k1');
const impostor = await keyPair('k1');
const next = await keyPair('k2');
const never = await keyPair('k-never');

let mode = 'good';
let rotated = false;
const stats = { jwks: 0, token: 0 };
const codes = new Map();
const githubCodes = new Map();
const githubTokens = new Set();

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  const body = await new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data));
  });
  const json = (status, value) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value));
  };
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(200, {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  }
  if (url.pathname === '/jwks') {
    stats.jwks += 1;
    return json(200, { keys: rotated ? [published.jwk, next.jwk] : [published.jwk] });
  }
  if (url.pathname === '/mode' && req.method === 'POST') {
    mode = body.trim();
    if (mode === 'rotate') rotated = true;
    return json(200, { mode });
  }
  if (url.pathname === '/stats') return json(200, stats);
  // GitHub's shapes: OAuth 2.0 (a spent code is answered 200 with an error, as GitHub does)
  // and the REST API's /user and /user/emails.
  if (url.pathname === '/github/authorize') {
    const q = url.searchParams;
    const code = randomBytes(16).toString('hex');
    githubCodes.set(code, { challenge: q.get('code_challenge'), redirect_uri: q.get('redirect_uri') });
    const back = new URL(q.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/github/token' && req.method === 'POST') {
    const form = new URLSearchParams(body);
    const grant = githubCodes.get(form.get('code'));
    githubCodes.delete(form.get('code'));
    const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
    if (!grant || grant.challenge !== challenge || grant.redirect_uri !== form.get('redirect_uri')) {
      return json(200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
    }
    const token = `gho_${randomBytes(16).toString('hex')}`;
    githubTokens.add(token);
    return json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
  }
  if (url.pathname.startsWith('/github/api/')) {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!githubTokens.has(token)) return json(401, { message: 'Bad credentials' });
    if (url.pathname === '/github/api/user') {
      return json(200, { id: 583231, login: 'octocat', name: 'The Octocat', email: null });
    }
    if (url.pathname === '/github/api/user/emails') {
      return json(200, [
        { email: 'unverified@example.org', primary: false, verified: false },
        { email: 'octocat@example.org', primary: true, verified: true },
        { email: 'octo-work@example.org', primary: false, verified: true },
      ]);
    }
  }
  if (url.pathname === '/authorize') {
    const q = url.searchParams;
    const code = randomBytes(16).toString('hex');
    codes.set(code, {
      client_id: q.get('client_id'),
      nonce: q.get('nonce'),
      challenge: q.get('code_challenge'),
      redirect_uri: q.get('redirect_uri'),
    });
    const back = new URL(q.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    stats.token += 1;
    const form = new URLSearchParams(body);
    const grant = codes.get(form.get('code'));
    codes.delete(form.get('code'));
    const verifier = form.get('code_verifier') ?? '';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    if (!grant || grant.challenge !== challenge || grant.redirect_uri !== form.get('redirect_uri')) {
      return json(400, { error: 'invalid_grant' });
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: 'fake-subject-1',
      preferred_username: 'fakeuser',
      email: 'fake@example.org',
      email_verified: true,
      nonce: grant.nonce,
    };
    let key = published;
    let aud = grant.client_id;
    let iat = now;
    let exp = now + 300;
    if (mode === 'expired') { iat = now - 900; exp = now - 600; }
    if (mode === 'audience') aud = 'another-client';
    if (mode === 'signature') key = impostor;
    if (mode === 'rotate') key = next;
    if (mode === 'unknown') key = never;
    const idToken = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(issuer)
      .setAudience(aud)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
  }
  json(404, { error: 'not_found' });
});

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
console.log(`listening ${issuer}`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
