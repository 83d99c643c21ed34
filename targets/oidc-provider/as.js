// Authorization server: panva/oidc-provider with DPoP (RFC 9449), issuing JWT access tokens bound to the
// proof key (cnf.jkt) for the one resource of rs.js.
//
// Clients:
//   conformance-client  confidential, client_secret_basic, client_credentials (the suite's [client])
//   conformance-spa     public, authorization_code + PKCE + refresh_token (the suite's [public_client]);
//                       logins approve themselves (GET /interaction/:uid), so `login = "auto"` works
// Endpoints come from discovery: token, introspection, PAR (/request), authorization (/auth), jwks.
//
// env: DPOP_CLIENT_SECRET (required: conformance-client's secret), DPOP_NONCE=1 to demand DPoP nonces
//      at the token and PAR endpoints (§8), AS_PORT, RS_PORT, WATCH_PID (see common.js)
import * as crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { AS_PORT, HOST, ISSUER, RESOURCE, exitWithWatchedProcess, listening } from './common.js';

const CLIENT_SECRET = process.env.DPOP_CLIENT_SECRET;
if (!CLIENT_SECRET) {
  console.error('as.js: set DPOP_CLIENT_SECRET (the secret of conformance-client)');
  process.exit(2);
}
const NONCE = process.env.DPOP_NONCE === '1';
const ACCOUNT = 'test-user';
const REDIRECT_URI = 'http://127.0.0.1:8765/callback';

// the key signing the JWT access tokens: new at every start; rs.js fetches it from jwks_uri
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'access-tokens', use: 'sig', alg: 'RS256' };

// a grant of everything the public client may ask for: no consent screen
async function fullGrant(provider, clientId, accountId) {
  const grant = new provider.Grant({ clientId, accountId });
  grant.addOIDCScope('openid offline_access read');
  grant.addResourceScope(RESOURCE, 'read');
  return grant.save();
}

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: 'conformance-client',
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'read',
    },
    {
      client_id: 'conformance-spa',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      scope: 'openid offline_access read',
    },
  ],
  scopes: ['openid', 'offline_access', 'read'],
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const saved = await fullGrant(ctx.oidc.provider, ctx.oidc.client.clientId, ctx.oidc.session.accountId);
    return ctx.oidc.provider.Grant.find(saved);
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    dPoP: {
      enabled: true,
      ...(NONCE ? { nonceSecret: crypto.randomBytes(32), requireNonce: () => true } : {}),
    },
    resourceIndicators: {
      enabled: true,
      // the suite sends no `resource` parameter: every token is for the one resource
      defaultResource: async (_ctx, _client, oneOf) => oneOf || RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'read',
          audience: RESOURCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
provider.proxy = false;

// the login page: logs the fixed test account in (and grants everything, should consent be asked)
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const result = {};
  if (details.prompt.name === 'login') result.login = { accountId: ACCOUNT };
  if (details.prompt.name === 'consent') {
    result.consent = { grantId: await fullGrant(provider, details.params.client_id, details.session.accountId) };
  }
  ctx.status = 303;
  ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
  return undefined;
});
provider.on('server_error', (_ctx, err) => console.error('as.js: server_error', err));

exitWithWatchedProcess('as.js');
const server = provider.listen(AS_PORT, HOST, () => {
  console.log(`as.js: ${ISSUER} (DPoP nonces ${NONCE ? 'required' : 'off'}), tokens for ${RESOURCE}`);
});
listening('as.js', server);
