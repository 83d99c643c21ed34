// Resource server: Express with Auth0's express-oauth2-jwt-bearer (DPoP enabled, its defaults otherwise),
// protecting GET /resource with the JWT access tokens of as.js.
//
// env: AS_PORT, RS_PORT, WATCH_PID (see common.js)
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { HOST, ISSUER, RESOURCE, RS_PORT, exitWithWatchedProcess, listening } from './common.js';

const app = express();
app.get(
  '/resource',
  auth({
    issuer: ISSUER,
    jwksUri: `${ISSUER}/jwks`,
    audience: RESOURCE,
    tokenSigningAlg: 'RS256',
    // the SDK's defaults, spelled out: DPoP on, Bearer tokens still accepted (but not DPoP-bound ones)
    dpop: { enabled: true, required: false },
  }),
  (req, res) => {
    res.json({ resource: 'protected', method: req.method, sub: req.auth.payload.sub });
  },
);

// the SDK's errors carry the status and the WWW-Authenticate challenge: send them as they are, with a JSON
// body holding only the description (Express's default is an HTML page), so every verdict rests on the
// SDK's own answer
app.use((err, _req, res, _next) => {
  const status = err.status || err.statusCode || 500;
  if (err.headers) res.set(err.headers);
  if (status >= 500) console.error('rs.js: error', err);
  res.status(status).json({ message: err.message });
});

exitWithWatchedProcess('rs.js');
const server = app.listen(RS_PORT, HOST, () => {
  console.log(`rs.js: ${RESOURCE} (issuer ${ISSUER})`);
});
listening('rs.js', server);
