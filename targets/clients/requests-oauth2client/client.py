"""The client of this harness: requests-oauth2client 1.8.0 used as its README's "Using DPoP" section shows.

It reads the contract's environment (targets/clients/README.md), obtains a DPoP token, calls the resource with
the token as the `requests` auth handler, obtains a second token the same way (or refreshes once, with
DPOP_REFRESH=1), calls the resource again, and exits 0 when both calls succeeded. The library builds every proof,
keeps the nonces and does every nonce retry (OAuth2Client._request for the token endpoint, DPoPToken._response_hook
for the resource): this script adds none. It never prints the secret, a key or a token.
"""

from __future__ import annotations

import os
import sys

import requests
from requests_oauth2client import ClientSecretBasic, OAuth2Client, oauth2_discovery_document_url

env = os.environ
method = env.get("DPOP_RESOURCE_METHOD", "GET").upper()  # the post capability (targets/clients/README.md)
issuer = env["DPOP_ISSUER"]
public = not env.get("DPOP_CLIENT_SECRET")
client = OAuth2Client.from_discovery_endpoint(
    url=oauth2_discovery_document_url(issuer),  # RFC 8414 metadata (issuer= alone would fetch OpenID's)
    issuer=issuer,
    auth=env["DPOP_CLIENT_ID"] if public else ClientSecretBasic(env["DPOP_CLIENT_ID"], env["DPOP_CLIENT_SECRET"]),
    redirect_uri=env.get("DPOP_REDIRECT_URI"),
    dpop_bound_access_tokens=True,  # "enable DPoP by default for every token request"
    testing=True,  # the judging servers are http://127.0.0.1: without it the library refuses non-https URLs
)


def obtain_token():
    if env.get("DPOP_GRANT") != "authorization_code":
        return client.client_credentials(scope=env["DPOP_SCOPE"])
    # the public client's code flow: PKCE and dpop_jkt come with the request; the judging AS approves without a
    # login and redirects at once, so the redirect's Location is the authorization response
    request = client.authorization_request(scope=env["DPOP_SCOPE"])
    redirect = requests.get(str(request), allow_redirects=False, timeout=10)
    return client.authorization_code(request.validate_callback(redirect.headers["Location"]))


def call_resource(token) -> bool:
    # GET, or with the post capability's DPOP_RESOURCE_METHOD=POST a POST with a form body: requests' own way to
    # send one; DPoPToken proves whatever method the prepared request has (htm from request.method)
    if method == "POST":
        response = requests.post(env["DPOP_RESOURCE_URL"], data={"greeting": "hello"}, auth=token, timeout=10)
    else:
        response = requests.get(env["DPOP_RESOURCE_URL"], auth=token, timeout=10)  # the token adds the proof
    sys.stdout.write(f"{env.get('DPOP_SCENARIO', '')}: resource answered {response.status_code}\n")
    return response.ok


try:
    token = obtain_token()
    first = call_resource(token)
    # with DPOP_REFRESH=1 a refresh, which the library proves with the token's own key; else a new token
    refresh = env.get("DPOP_REFRESH") == "1" and token.refresh_token
    token = client.refresh_token(token) if refresh else obtain_token()
    second = call_resource(token)
except Exception as exc:  # the library's own exceptions say what failed, without secrets
    sys.stderr.write(f"{env.get('DPOP_SCENARIO', '')}: {type(exc).__name__}: {str(exc)[:300]}\n")
    sys.exit(1)
sys.exit(0 if first and second else 1)
