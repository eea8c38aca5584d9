// The sandbox's OAuth 2.0 authorization server: the npm package oidc-provider (OpenID
// certified) configured like the providers the hub talks to. Started by hub/sandbox/authserver.py
// with one argument, a JSON file:
//   {port, access_ttl, refresh_ttl, store, clients: [{client_id, client_secret, redirect_uris,
//    rotate, refresh, auth_method, accounts}], scopes: [...]}
// PKCE is required for every client; refresh tokens rotate only for the clients whose real
// provider rotates them; access tokens are opaque and short-lived, checked by the sandbox's
// vendor proxy through token introspection. With `store` (a file path), grants, tokens and
// sessions are kept in that file, so a restarted server (the next `hub up`) still honours
// the refresh tokens it issued; without it they live in memory (tests).
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const conf = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const refreshTtl = conf.refresh_ttl || 86400;

// oidc-provider's adapter interface over one JSON file, rewritten (atomically) on each change.
// Small by design: a demo's handful of grants, not a production store.
const db = conf.store && existsSync(conf.store)
  ? JSON.parse(readFileSync(conf.store, 'utf8'))
  : { items: {}, grants: {}, uids: {}, userCodes: {} };
function save() {
  const now = Date.now();
  for (const [k, it] of Object.entries(db.items)) if (it.exp && it.exp < now) delete db.items[k];
  const tmp = `${conf.store}.tmp`;
  writeFileSync(tmp, JSON.stringify(db), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, conf.store);
}
class FileAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    db.items[key] = { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : null };
    if (payload.grantId) {
      db.grants[payload.grantId] = [...new Set([...(db.grants[payload.grantId] || []), key])];
    }
    if (this.model === 'Session' && payload.uid) db.uids[payload.uid] = id;
    if (payload.userCode) db.userCodes[payload.userCode] = id;
    save();
  }
  async find(id) {
    const it = db.items[this.key(id)];
    if (!it || (it.exp && it.exp < Date.now())) return undefined;
    return it.payload;
  }
  async findByUid(uid) { return db.uids[uid] ? this.find(db.uids[uid]) : undefined; }
  async findByUserCode(code) { return db.userCodes[code] ? this.find(db.userCodes[code]) : undefined; }
  async consume(id) {
    const it = db.items[this.key(id)];
    if (it) { it.payload.consumed = Math.floor(Date.now() / 1000); save(); }
  }
  async destroy(id) { delete db.items[this.key(id)]; save(); }
  async revokeByGrantId(grantId) {
    for (const key of db.grants[grantId] || []) delete db.items[key];
    delete db.grants[grantId];
    save();
  }
}
const issuer = `http://127.0.0.1:${conf.port}`;
const rotating = new Set(conf.clients.filter((c) => c.rotate).map((c) => c.client_id));
const noRefresh = new Set(conf.clients.filter((c) => c.refresh === false).map((c) => c.client_id));
// Like Google: a refresh answers no refresh_token (the client keeps the one it has).
const quiet = new Set(conf.clients.filter((c) => c.omit_refresh_on_refresh).map((c) => c.client_id));
const resourceScopes = conf.scopes.filter((s) => !['openid', 'email', 'profile', 'offline_access'].includes(s));

const provider = new Provider(issuer, {
  ...(conf.store ? { adapter: FileAdapter } : {}),
  clients: conf.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    grant_types: c.refresh === false ? ['authorization_code'] : ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: c.auth_method || 'client_secret_basic',
  })),
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: { email: ['email'], profile: ['name'] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: id.includes('@') ? id : `${id}@example.test`, name: id }),
  }),
  issueRefreshToken: async (_ctx, client) =>
    client.grantTypeAllowed('refresh_token') && !noRefresh.has(client.clientId),
  rotateRefreshToken: (ctx) => rotating.has(ctx.oidc.entities.Client.clientId),
  ttl: {
    AccessToken: conf.access_ttl,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    // A refresh token is honoured only while its grant lives.
    Grant: Math.max(86400, refreshTtl),
    RefreshToken: refreshTtl,
  },
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    // Dynamic client registration (RFC 7591), for MCP servers' OAuth (the hub registers itself).
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:sandbox:vendor-api',
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: resourceScopes.join(' '),
        accessTokenFormat: 'opaque',
        accessTokenTTL: conf.access_ttl,
      }),
    },
  },
});
// Every request is counted so tests can assert how many calls reached the token endpoint.
const counts = { token: 0, refresh: 0, authorization_code: 0, revocation: 0, introspection: 0 };
// Tests can hold the next token answer back (a slow provider) to open race windows.
let delayNextMs = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/__counts') {
    ctx.body = counts;
    return;
  }
  if (ctx.path === '/__delay') {
    delayNextMs = Number(ctx.query.ms || 0);
    ctx.body = { delay_ms: delayNextMs };
    return;
  }
  if (ctx.path === '/oauth/userinfo' && ctx.method === 'GET') {
    // DocuSign's userinfo (account.docusign.com/oauth/userinfo): who the token is for and the
    // accounts it may use, each with its own API host (base_uri), for the clients given some.
    const auth = ctx.get('authorization') || '';
    const value = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
    const token = value ? await provider.AccessToken.find(value) : undefined;
    const client = token && conf.clients.find((c) => c.client_id === token.clientId);
    if (!token || !client || !Array.isArray(client.accounts)) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_request', error_description: 'The access token provided is expired, revoked or malformed.' };
      return;
    }
    const sub = String(token.accountId);
    const email = sub.includes('@') ? sub : `${sub}@example.test`;
    ctx.body = { sub, name: sub, email, accounts: client.accounts };
    return;
  }
  const isToken = ctx.path === '/token' && ctx.method === 'POST';
  if (isToken) {
    counts.token += 1;
    if (delayNextMs) {
      const ms = delayNextMs;
      delayNextMs = 0;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
  if (ctx.path === '/token/revocation') counts.revocation += 1;
  if (ctx.path === '/token/introspection') counts.introspection += 1;
  await next();
  if (isToken && ctx.body && ctx.body.refresh_token && ctx.oidc && ctx.oidc.client
      && quiet.has(ctx.oidc.client.clientId) && ctx.oidc.params.grant_type === 'refresh_token') {
    delete ctx.body.refresh_token;
  }
});
provider.on('grant.success', (ctx) => {
  const gt = ctx.oidc.params && ctx.oidc.params.grant_type;
  if (gt === 'refresh_token') counts.refresh += 1;
  if (gt === 'authorization_code') counts.authorization_code += 1;
});

const server = provider.listen(conf.port, '127.0.0.1', () => {
  process.stdout.write(`oidc-provider listening on ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
