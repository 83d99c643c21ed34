"""The resource: GET /resource behind axa-fr-oidc's OidcValidator.validate_token(), and nothing that judges.

The library validates a token string and, when given one, a DPoP proof string against a request path and
method (validator.py OidcValidator.validate_token(token, dpop, path, http_method)); it returns an
AuthenticationResult (success, and a free-text error) and never looks at HTTP. This glue only translates:

- the token is what follows the scheme of the one Authorization field and its spaces, handed over as it is
  (the library parses it: a value that is no JWT is its refusal, not the glue's);
- the DPoP scheme makes the request a DPoP request: the library gets the DPoP header field's value, all its
  lines joined with ", " as RFC 9110 §5.3 combines them (two proofs are the library's to refuse), or "" when
  there is none, which the library itself refuses ("No DPoP token provided"); in the `optional`
  configuration the Bearer scheme is the library's other call: the token alone (dpop=None);
- path is the request's path and http_method its method, as the library's documentation shows
  (`path="/api/resource"`);
- a refusal by the library is 401 with `error="invalid_token"` on the challenge of the scheme the request used
  (and the bare challenges of the other schemes this resource reads). The library gives one verdict on the
  token and its proof together, with no error code (AuthenticationResult.error is a sentence): RFC 6750 §3.1's
  invalid_token ("expired, revoked, malformed, or invalid for other reasons") is the one code that says no
  more than that verdict; the glue does not read the sentence to pick a finer one (RFC 9449 §7.1's
  invalid_dpop_proof), which would be the glue judging. The sentence goes in the JSON body as `message`. A
  request without credentials this resource reads gets the challenges and no error code (RFC 6750 §3.1); two
  Authorization fields, the one refusal the glue makes itself (the library takes one token, and which line is
  meant is not the glue's to guess), get 400 invalid_request (RFC 6750 §3.1: more than one method);
- the library raises jwskate's InvalidJwt (a ValueError) instead of returning a result for an access token
  that does not parse (oidc_authentication.py:631, outside any try): that is a refusal too, answered alike.

The one thing the glue adds is a lock around the call: the library's replay store is a plain dict
(`OidcAuthentication.used_jti`) that `_check_jti` iterates while it deletes expired entries, which is not safe
across threads; one validation at a time is what the library's async call on one event loop gives too.

env: AXA_DPOP (required | optional), AS_PORT, RS_PORT, WATCH_PID (see common.py)
"""

from __future__ import annotations

import os
import threading
from importlib.metadata import version
from urllib.parse import urlsplit

from axa_fr_oidc import AuthenticationResult, OidcValidator  # type: ignore[import-untyped]  # no py.typed
from common import ISSUER, RESOURCE, RS_PORT, Handler, log, serve

NAME = "rs_server"
MODE = os.environ.get("AXA_DPOP", "required")
if MODE not in ("required", "optional"):
    raise SystemExit(f"rs_server.py: AXA_DPOP must be required or optional, not {MODE!r}")
# the schemes whose credentials this resource reads: DPoP always, Bearer where DPoP is optional
SCHEMES = ("dpop",) if MODE == "required" else ("dpop", "bearer")


def challenges(scheme: str | None = None, error: str | None = None) -> list[tuple[str, str]]:
    """One WWW-Authenticate field per scheme this resource reads; `error` on the one named `scheme` (RFC 6750 §3)."""
    fields = []
    for name in SCHEMES:
        title = "DPoP" if name == "dpop" else "Bearer"
        fields.append(("WWW-Authenticate", f'{title} error="{error}"' if error and name == scheme else title))
    return fields


# the library's defaults but for the audience: every token of the harness's AS names this resource
VALIDATOR = OidcValidator(issuer=ISSUER, audience=RESOURCE)
_ONE_AT_A_TIME = threading.Lock()


def credentials(field: str) -> tuple[str, str] | None:
    """The scheme (lower case) and what follows it and its spaces: `auth-scheme 1*SP ...` (RFC 9110 §11.4).

    Only the space separates the scheme (RFC 9110 §11.4); the rest is the library's to judge, as it is.
    """
    scheme, space, rest = field.partition(" ")
    if not scheme:
        return None
    return scheme.lower(), rest.lstrip(" ") if space else ""


class Resource(Handler):
    """GET /resource: 200 when the library validates the request, 401 when it does not."""

    def refuse(self, status: int, message: str, scheme: str | None = None, error: str | None = None) -> None:
        """A refusal with this resource's challenges, `error` on the challenge of `scheme` (none: no error code)."""
        self.send(status, {"message": message}, challenges(scheme, error))

    def do_GET(self) -> None:
        """Every method is answered here: the library compares the proof's htm with the request's method."""
        self.read_body()  # whatever body comes is not the glue's to read, but it must leave the connection
        path = urlsplit(self.path).path
        if path != "/resource":
            self.send(404, {"message": "not found"})
            return
        fields = self.headers.get_all("Authorization") or []
        if len(fields) > 1:
            # the library takes one token: which line is meant is not the glue's to guess
            self.refuse(400, "two Authorization header fields", "dpop", "invalid_request")
            return
        found = credentials(fields[0]) if fields else None
        if found is None or found[0] not in SCHEMES:
            self.refuse(401, "no credentials this resource reads")
            return
        scheme, token = found
        proofs = self.headers.get_all("DPoP") or []
        dpop = ", ".join(proofs) if scheme == "dpop" else None
        try:
            with _ONE_AT_A_TIME:
                result = VALIDATOR.validate_token(token, dpop, path=path, http_method=self.command)
        except ValueError as err:  # jwskate's InvalidJwt and its kin, raised for an access token that is no JWT
            result = AuthenticationResult(success=False, error=f"{type(err).__name__}: {err}")
        if not result.success:
            log(NAME, f"refused: {result.error}")
            self.refuse(401, result.error, scheme, "invalid_token")
            return
        payload = result.payload or {}
        self.send(200, {"resource": "protected", "sub": payload.get("sub")})

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


def main() -> None:
    """Serve the resource on 127.0.0.1:RS_PORT."""
    log(NAME, f"{RESOURCE}: axa-fr-oidc {version('axa-fr-oidc')}, DPoP {MODE}, issuer {ISSUER}")
    serve(NAME, RS_PORT, Resource)


if __name__ == "__main__":
    main()
