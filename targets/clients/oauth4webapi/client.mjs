// The smallest DPoP client openid-client 6.8's documentation shows (its examples/dpop.ts and the API docs of
// discovery, getDPoPHandle, clientCredentialsGrant, refreshTokenGrant and fetchProtectedResource), following
// client conformance's contract: everything comes from the environment (DPOP_ISSUER, DPOP_CLIENT_ID,
// DPOP_CLIENT_SECRET, DPOP_SCOPE, DPOP_RESOURCE_URL, DPOP_SCENARIO, DPOP_REFRESH, DPOP_GRANT, DPOP_REDIRECT_URI, DPOP_RESOURCE_METHOD).
//
// It discovers the AS (RFC 8414 metadata, so `algorithm: 'oauth2'`), makes one DPoP key pair with the library's
// default algorithm and one DPoP handle, obtains a token (client_credentials with client_secret_basic, or the
// public client's authorization code with PKCE and dpop_jkt), calls the resource, obtains a second token the
// same way (or refreshes once with DPOP_REFRESH=1), calls the resource again, and exits 0 when both calls
// succeeded. The library builds every proof, keeps every nonce and does the one nonce retry itself: this
// script never touches a proof, a nonce or a header. It prints no secret, key or token.
import * as client from 'openid-client'

const env = process.env

async function obtain(config, DPoP) {
  if (env.DPOP_GRANT !== 'authorization_code') {
    return client.clientCredentialsGrant(config, { scope: env.DPOP_SCOPE ?? '' }, { DPoP })
  }
  // examples/dpop.ts: PKCE always, state only where the AS does not advertise PKCE; dpop_jkt from the handle
  const redirect_uri = env.DPOP_REDIRECT_URI
  const code_verifier = client.randomPKCECodeVerifier()
  const parameters = {
    redirect_uri,
    scope: env.DPOP_SCOPE ?? '',
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: 'S256',
    dpop_jkt: await DPoP.calculateThumbprint(),
  }
  let state
  if (!config.serverMetadata().supportsPKCE()) {
    state = client.randomState()
    parameters.state = state
  }
  // the user agent's part: the judging AS approves at once and redirects to redirect_uri with the code
  const authorization = await fetch(client.buildAuthorizationUrl(config, parameters), { redirect: 'manual' })
  const location = authorization.headers.get('location')
  if (!location) throw new Error(`authorization request answered HTTP ${authorization.status}, no redirect`)
  return client.authorizationCodeGrant(
    config,
    new URL(location),
    { pkceCodeVerifier: code_verifier, expectedState: state },
    undefined,
    { DPoP },
  )
}

async function call(config, DPoP, tokens) {
  const url = new URL(env.DPOP_RESOURCE_URL)
  // GET, or with the post capability's DPOP_RESOURCE_METHOD=POST a POST with a form body: fetchProtectedResource's
  // own method and body parameters (the proof's htm is the method given)
  const method = (env.DPOP_RESOURCE_METHOD ?? 'GET').toUpperCase()
  const body = method === 'POST' ? new URLSearchParams({ greeting: 'hello' }) : undefined
  const response = await client.fetchProtectedResource(config, tokens.access_token, url, method, body, undefined, {
    DPoP,
  })
  if (!response.ok) process.stderr.write(`resource answered HTTP ${response.status}\n`)
  return response.ok
}

async function main() {
  const secret = env.DPOP_CLIENT_SECRET ?? ''
  const config = await client.discovery(
    new URL(env.DPOP_ISSUER),
    env.DPOP_CLIENT_ID,
    undefined,
    secret ? client.ClientSecretBasic(secret) : client.None(),
    { algorithm: 'oauth2', execute: [client.allowInsecureRequests] }, // the judging servers are http on loopback
  )
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair())

  const first = await obtain(config, DPoP)
  let ok = await call(config, DPoP, first)
  const second =
    env.DPOP_REFRESH === '1' && first.refresh_token
      ? await client.refreshTokenGrant(config, first.refresh_token, undefined, { DPoP })
      : await obtain(config, DPoP)
  ok = (await call(config, DPoP, second)) && ok
  return ok ? 0 : 1
}

try {
  process.exitCode = await main()
} catch (err) {
  // the error's name, code, OAuth error and HTTP status: never its cause or response (they may hold a token)
  const what = [err?.name, err?.code, err?.error, err?.status].filter((part) => part !== undefined).join(' ')
  process.stderr.write(`${env.DPOP_SCENARIO ?? ''}: ${what}: ${err?.message}\n`)
  process.exitCode = 1
}
