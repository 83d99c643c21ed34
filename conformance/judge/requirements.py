"""Where each requirement the cases check is written, and the words that say it.

Every case declares the id of the requirement it checks (the last column of docs/cases.md). This module maps
each such id to its source (document and section), the sentence(s) of that source that carry it, and the BCP 14
keyword those words give. docs/cases.md quotes these entries, so every requirement a case declares must be here;
tests/test_requirements.py checks that against `dpop-conformance list`.

How the quotes are written:

- Verbatim, as one line: line breaks and runs of spaces are collapsed into single spaces.
- RFC 9449 is quoted from the markdown source of its final draft (draft-ietf-oauth-dpop-16, whose normative text
  the RFC keeps). Markdown is rendered as the RFC renders it: a cross-reference such as (#checking) becomes
  "Section 4.3", a citation such as [@!RFC7638] becomes "[RFC7638]" and [@!RFC3986, section 6.2.2] becomes
  "Section 6.2.2 of [RFC3986]"; backticks are dropped (`htu` is written htu). The RFC editor's later changes of
  form (for instance capitals at the start of each numbered check in §4.3) are not carried over.
- Passages of one source that are not adjacent are joined by " [...] ". The numbered checks of §4.3 are quoted
  with the sentence that introduces them, since that is where their MUST is.
- keyword is the BCP 14 keyword (RFC 2119, RFC 8174: upper case only) that the quote gives the requirement; when
  a quote holds several, it is the one that decides the case (for example MUST over a SHOULD about how to
  compare). It is "none" when the words carry no BCP 14 keyword: "can", "needs to", a lower-case "should", a
  plain description. The FAPI 2.0 profile's lower-case "shall" (ISO/IEC Directives Part 2 verbal forms, not
  BCP 14) is keyword "shall": a requirement, read as MUST. "defined" marks the sentences that define the
  protocol's own messages without a keyword (the challenge's status and scheme, the scheme's syntax, the nonce
  challenge at the resource): a server that departs from them breaks the exchange itself, so a case on that
  positive path may judge at MUST; any SHOULD in the same quote keeps its own level inside the case.
- duty says whose duty the words are, which caps the level a *server* case can give (docs/cases.md, "Whose
  duty"): "server" (the receiving server's own: the keyword decides), "client" (the key holder's, the
  producer's of the proof: a server that does not enforce it is at most a warning), "unused" (a claim RFC 9449
  does not use: RFC 7519 §4 lets a server ignore it, so what it does is info). A profile raises a level by a
  requirement of its own (FAPI 2.0 §5.4.1 puts RSA key sizes on the server too).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REQUIREMENTS", "Requirement", "requirement"]


@dataclass(frozen=True)
class Requirement:
    """One requirement the catalog checks: where it is written, and the words that say it."""

    id: str
    """The id the cases declare, e.g. "R-4.3-9" (R-x.y-n: the requirement catalog's ids)."""
    source: str
    """The document and section, e.g. "RFC 9449 §4.3" or "FAPI 2.0 Security Profile §5.3.2.1"."""
    quote: str
    """The sentence(s) of the source, verbatim, on one line; passages that are not adjacent joined by " [...] "."""
    keyword: str
    """The BCP 14 keyword the quote gives ("MUST", "MUST NOT", "SHOULD", "MAY", "RECOMMENDED", ...), "shall" (FAPI's
    ISO requirement), "defined" (a definition of the protocol's messages), or "none"."""
    duty: str = "server"
    """Whose duty the words are: "server", "client" (at most a warning at a server) or "unused" (info)."""


# FAPI 2.0 Security Profile: quoted from openid/fapi, fapi-2_0-security-profile.md at commit 0051804b5a7c (its
# title reads "FAPI 2.0 Security Profile — Draft 04"; the wording of these clauses is the one the suite applies).
# The section numbers follow that copy's headings (5 Security profile, 5.3.2.1 General requirements for
# authorization servers, 5.4.1 Cryptography and secrets: General requirements); the numbers of the published
# final version were not checked against a stored copy of it. The profile uses ISO "shall" in lower case, which is
# not a BCP 14 keyword but is a requirement all the same (ISO/IEC Directives Part 2): keyword "shall", which the
# cases read as MUST. The clauses are items
# of a list; the words that open the list are quoted first.

REQUIREMENTS: dict[str, Requirement] = {
    # RFC 9449 §4.3 Checking DPoP Proofs
    "R-4.3": Requirement(
        id="R-4.3",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] These checks may be performed in "
            "any order."
        ),
        keyword="MUST",
    ),
    "R-4.3-1": Requirement(
        id="R-4.3-1",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that 1. there is not more than one DPoP HTTP "
            "request header field"
        ),
        keyword="MUST",
    ),
    "R-4.3-2": Requirement(
        id="R-4.3-2",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 2. the DPoP HTTP request header "
            "field value is a single well-formed JWT"
        ),
        keyword="MUST",
    ),
    "R-4.3-3": Requirement(
        id="R-4.3-3",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 3. all required claims per "
            "Section 4.2 are contained in the JWT"
        ),
        keyword="MUST",
    ),
    "R-4.3-4": Requirement(
        id="R-4.3-4",
        source="RFC 9449 §4.3, §11.5",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 4. the typ JOSE header parameter "
            "has the value dpop+jwt [...] Servers accepting signed DPoP proof JWTs MUST verify that the typ field is "
            "dpop+jwt in the headers of the JWTs to ensure that adversaries cannot use JWTs created for other "
            "purposes."
        ),
        keyword="MUST",
    ),
    "R-4.3-5": Requirement(
        id="R-4.3-5",
        source="RFC 9449 §4.3, §11.6",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 5. the alg JOSE header parameter "
            "indicates a registered asymmetric digital signature algorithm [IANA.JOSE.ALGS], is not none, is "
            "supported by the application, and is acceptable per local policy [...] In particular, the algorithm "
            "none MUST NOT be allowed."
        ),
        keyword="MUST",
    ),
    "R-4.3-6": Requirement(
        id="R-4.3-6",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 6. the JWT signature verifies "
            "with the public key contained in the jwk JOSE header parameter"
        ),
        keyword="MUST",
    ),
    # The cases with kid, jku or x5c in place of jwk rest on §4.2's list of required header parameters.
    "R-4.3-7": Requirement(
        id="R-4.3-7",
        source="RFC 9449 §4.3, §4.2",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 7. the jwk JOSE header parameter "
            "does not contain a private key [...] The JOSE header of a DPoP JWT MUST contain at least the following "
            "parameters: [...] jwk: representing the public key chosen by the client, in JSON Web Key (JWK) "
            "[RFC7517] format, as defined in Section 4.1.3 of [RFC7515]. MUST NOT contain a private key."
        ),
        keyword="MUST NOT",
    ),
    "R-4.3-8": Requirement(
        id="R-4.3-8",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 8. the htm claim matches the HTTP "
            "method of the current request"
        ),
        keyword="MUST",
    ),
    "R-4.3-9": Requirement(
        id="R-4.3-9",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 9. the htu claim matches the HTTP "
            "URI value for the HTTP request in which the JWT was received, ignoring any query and fragment parts "
            "[...] To reduce the likelihood of false negatives, servers SHOULD employ Syntax-Based Normalization "
            "(Section 6.2.2 of [RFC3986]) and Scheme-Based Normalization (Section 6.2.3 of [RFC3986]) before "
            "comparing the htu claim."
        ),
        keyword="MUST",
    ),
    "R-4.3-10": Requirement(
        id="R-4.3-10",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 10. if the server provided a "
            "nonce value to the client, the nonce claim matches the server-provided nonce value"
        ),
        keyword="MUST",
    ),
    "R-4.3-11": Requirement(
        id="R-4.3-11",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 11. the creation time of the JWT, "
            "as determined by either the iat claim or a server managed timestamp via the nonce claim, is within an "
            "acceptable window (see Section 11.1)"
        ),
        keyword="MUST",
    ),
    "R-4.3-12a": Requirement(
        id="R-4.3-12a",
        source="RFC 9449 §4.3, §4.2",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 12. if presented to a protected "
            "resource in conjunction with an access token, [...] ensure that the value of the ath claim equals the "
            "hash of that access token [...] The value MUST be the result of a base64url encoding (as defined in "
            "Section 2 of [RFC7515]) the SHA-256 [SHS] hash of the ASCII encoding of the associated access token's "
            "value."
        ),
        keyword="MUST",
    ),
    "R-4.3-12b": Requirement(
        id="R-4.3-12b",
        source="RFC 9449 §4.3",
        quote=(
            "To validate a DPoP proof, the receiving server MUST ensure that [...] 12. if presented to a protected "
            "resource in conjunction with an access token, [...] confirm that the public key to which the access "
            "token is bound matches the public key from the DPoP proof."
        ),
        keyword="MUST",
    ),
    # RFC 9449 §5 DPoP Access Token Request, §5.1 Authorization Server Metadata
    "R-5-1": Requirement(
        id="R-5-1",
        source="RFC 9449 §5",
        quote=(
            "The DPoP HTTP header field MUST contain a valid DPoP proof JWT. If the DPoP proof is invalid, the "
            "authorization server issues an error response per Section 5.2 of [RFC6749] with invalid_dpop_proof as "
            "the value of the error parameter."
        ),
        keyword="MUST",
    ),
    # Cache-Control: no-store on the token response (case as-token-no-store) is RFC 6749 §5.1; §5's example response
    # (Figure 6) carries it.
    "R-5-2": Requirement(
        id="R-5-2",
        source="RFC 9449 §5",
        quote=(
            "A token_type of DPoP MUST be included in the access token response to signal to the client that the "
            "access token was bound to its DPoP key and can be used as described in Section 7.1."
        ),
        keyword="MUST",
    ),
    "R-5-5": Requirement(
        id="R-5-5",
        source="RFC 9449 §5",
        quote=(
            "When an authorization server supporting DPoP issues a refresh token to a public client that presents a "
            "valid DPoP proof at the token endpoint, the refresh token MUST be bound to the respective public key. "
            "The binding MUST be validated when the refresh token is later presented to get new access tokens."
        ),
        keyword="MUST",
    ),
    # §5.1 only defines the metadata; the MUST NOT that the case applies to the listed values is §4.2's rule for alg.
    "R-5.1-1": Requirement(
        id="R-5.1-1",
        source="RFC 9449 §5.1, §4.2",
        quote=(
            "This document introduces the following authorization server metadata [RFC8414] parameter to signal "
            "support for DPoP in general and the specific JWS alg values the authorization server supports for DPoP "
            "proof JWTs. [...] A JSON array containing a list of the JWS alg values (from the [IANA.JOSE.ALGS] "
            "registry) supported by the authorization server for DPoP proof JWTs. [...] alg: an identifier for a JWS "
            "asymmetric digital signature algorithm from [IANA.JOSE.ALGS]. MUST NOT be none or an identifier for a "
            "symmetric algorithm (MAC)."
        ),
        keyword="MUST NOT",
    ),
    # RFC 9449 §6 Public Key Confirmation
    "R-6-1": Requirement(
        id="R-6-1",
        source="RFC 9449 §6",
        quote=(
            "Resource servers supporting DPoP MUST ensure that the public key from the DPoP proof matches the one "
            "bound to the access token."
        ),
        keyword="MUST",
    ),
    "R-6.1-1": Requirement(
        id="R-6.1-1",
        source="RFC 9449 §6.1",
        quote=(
            "The value of the jkt member MUST be the base64url encoding (as defined in [RFC7515]) of the JWK SHA-256 "
            "Thumbprint (according to [RFC7638]) of the DPoP public key (in JWK format) to which the access token is "
            "bound."
        ),
        keyword="MUST",
    ),
    "R-6.2-1": Requirement(
        id="R-6.2-1",
        source="RFC 9449 §6.2",
        quote=(
            "For a DPoP-bound access token, the hash of the public key to which the token is bound is conveyed to "
            "the protected resource as metainformation in a token introspection response. The hash is conveyed using "
            "the same cnf content with jkt member structure as the JWK Thumbprint confirmation method, described in "
            "Section 6.1, as a top-level member of the introspection response JSON. [...] If the token_type member "
            "is included in the introspection response, it MUST contain the value DPoP."
        ),
        keyword="MUST",
    ),
    # RFC 9449 §7 Protected Resource Access
    "R-7-1": Requirement(
        id="R-7-1",
        source="RFC 9449 §7, §7.1",
        quote=(
            "Requests to DPoP protected resources MUST include both a DPoP proof as per Section 4 and the access "
            "token as described in Section 7.1. The DPoP proof MUST include the ath claim with a valid hash of the "
            "associated access token. [...] For such an access token, a resource server MUST check that a DPoP proof "
            "was also received in the DPoP header field of the HTTP request, check the DPoP proof according to the "
            "rules in Section 4.3, and check that the public key of the DPoP proof matches the public key to which "
            "the access token is bound per Section 6."
        ),
        keyword="MUST",
    ),
    # That the scheme name is case-insensitive is RFC 9110 §11.1 ("It uses a case-insensitive token to identify the
    # authentication scheme"), not RFC 9449; the ABNF is credentials = "DPoP" 1*SP token68.
    "R-7.1-1": Requirement(
        id="R-7.1-1",
        source="RFC 9449 §7.1",
        quote=(
            "A DPoP-bound access token is sent using the Authorization request header field per Section 11.6.2 of "
            "[RFC9110] using an authentication scheme of DPoP. The syntax of the Authorization header field for the "
            "DPoP scheme uses the token68 syntax defined in Section 11.2 of [RFC9110] (repeated below for ease of "
            "reference) for credentials."
        ),
        keyword="defined",
    ),
    "R-7.1-2": Requirement(
        id="R-7.1-2",
        source="RFC 9449 §7.1",
        quote="The resource server MUST NOT grant access to the resource unless all checks are successful.",
        keyword="MUST NOT",
    ),
    # No error code on a challenge to a request without credentials (case rs-challenge-no-error) is RFC 6750 §3.1,
    # repeated for DPoP in §7.2.
    "R-7.1-3": Requirement(
        id="R-7.1-3",
        source="RFC 9449 §7.1",
        quote=(
            "Such a challenge is made using the 401 (Unauthorized) response status code ([RFC9110], Section 15.5.2) "
            "and the WWW-Authenticate header field ([RFC9110], Section 11.6.1). [...] An error parameter ([RFC6750], "
            "Section 3) SHOULD be included to indicate the reason why the request was declined, if the request "
            "included an access token but failed authentication. [...] An algs parameter SHOULD be included to "
            "signal to the client the JWS algorithms that are acceptable for the DPoP proof JWT."
        ),
        keyword="defined",
    ),
    # RFC 7797 updates RFC 7519 with this sentence; its subject is the JWT, so its duty is the producer's: a
    # recipient that knows b64 reads a proof the key holder signed (a warning), one that does not know it refuses
    # it for crit (RFC 7515 §4.1.11), which the crit-unknown fault judges
    "RFC7797-7": Requirement(
        id="RFC7797-7",
        source="RFC 7797 §7",
        quote='For interoperability reasons, JSON Web Tokens [JWT] MUST NOT use "b64" with a "false" value.',
        keyword="MUST",
        duty="client",
    ),
    "RFC9110-15.5.2": Requirement(
        id="RFC9110-15.5.2",
        source="RFC 9110 §15.5.2",
        quote=(
            "The server generating a 401 response MUST send a WWW-Authenticate header field (Section 11.6.1) "
            "containing at least one challenge applicable to the target resource."
        ),
        keyword="MUST",
    ),
    "R-7.1-4": Requirement(
        id="R-7.1-4",
        source="RFC 9449 §7.1",
        quote=(
            "This authentication scheme is for origin-server authentication only. Therefore, this authentication "
            "scheme MUST NOT be used with the Proxy-Authenticate or Proxy-Authorization header fields."
        ),
        keyword="MUST NOT",
    ),
    "R-7.1-5": Requirement(
        id="R-7.1-5",
        source="RFC 9449 §7.1, §8",
        quote=(
            "Note that browser-based client applications using CORS [WHATWG.Fetch] only have access to "
            "CORS-safelisted response HTTP headers by default. In order for the application to obtain and use the "
            "WWW-Authenticate HTTP response header value, the server needs to make it available to the application "
            "by including WWW-Authenticate in the Access-Control-Expose-Headers response header list value. [...] In "
            "order for the application to obtain and use the DPoP-Nonce HTTP response header value, the server needs "
            "to make it available to the application by including DPoP-Nonce in the Access-Control-Expose-Headers "
            "response header list value."
        ),
        keyword="none",
    ),
    "R-7.2-1": Requirement(
        id="R-7.2-1",
        source="RFC 9449 §7.2",
        quote=(
            "Protected resources simultaneously supporting both the DPoP and Bearer schemes need to update how "
            "evaluation of bearer tokens is performed to prevent downgraded usage of a DPoP-bound access token. "
            "Specifically, such a protected resource MUST reject a DPoP-bound access token received as a bearer "
            "token per [RFC6750]."
        ),
        keyword="MUST",
    ),
    # Figure 19 answers Bearer and DPoP credentials together with 400 invalid_request; the status and code are RFC
    # 6750 §3.1's (see RFC6750-3.1).
    "R-7.2-2": Requirement(
        id="R-7.2-2",
        source="RFC 9449 §7.2",
        quote=(
            "It is RECOMMENDED that the following rules be adhered to: [...] If the mechanism used to attempt "
            "authentication could be established unambiguously, then the corresponding challenge SHOULD be used to "
            "deliver error information (Figure 18). [...] Otherwise, both Bearer and DPoP challenged MAY be used to "
            "deliver error information (Figure 19)."
        ),
        keyword="RECOMMENDED",
    ),
    # RFC 9449 §8 Authorization Server-Provided Nonce, §9 Resource Server-Provided Nonce
    "R-8-1": Requirement(
        id="R-8-1",
        source="RFC 9449 §8",
        quote=(
            "An authorization server MAY supply a nonce value to be included by the client in DPoP proofs sent. In "
            "this case, the authorization server responds to requests not including a nonce with an HTTP 400 (Bad "
            "Request) error response per Section 5.2 of [RFC6749] using use_dpop_nonce as the error code value. The "
            "authorization server includes a DPoP-Nonce HTTP header in the response supplying a nonce value to be "
            "used when sending the subsequent request."
        ),
        keyword="MAY",
    ),
    "R-8-2": Requirement(
        id="R-8-2",
        source="RFC 9449 §8",
        quote=(
            "Other HTTP headers and JSON fields MAY also be included in the error response, but there MUST NOT be "
            "more than one DPoP-Nonce header."
        ),
        keyword="MUST NOT",
    ),
    # §9 has resource servers provide nonces "in the same way that authorization servers do", so the rs-* cases apply
    # this to the resource too.
    "R-8-4": Requirement(
        id="R-8-4",
        source="RFC 9449 §8",
        quote=(
            "If the nonce claim in the DPoP proof does not exactly match a nonce recently supplied by the "
            "authorization server to the client, the authorization server MUST reject the request. The rejection "
            "response MAY include a DPoP-Nonce HTTP header providing a new nonce value to use for subsequent "
            "requests."
        ),
        keyword="MUST",
    ),
    # The MUST binds the client; that the server accepts the nonce it sent is what makes it usable. "should be
    # uncacheable" is lower-case, not BCP 14.
    "R-8.2-1": Requirement(
        id="R-8.2-1",
        source="RFC 9449 §8.2",
        quote=(
            "A more efficient manner of supplying a new nonce value is also defined -- by including a DPoP-Nonce "
            "HTTP header in the HTTP 200 (OK) response from the previous request. The client MUST use the new nonce "
            "value supplied for the next token request, and for all subsequent token requests until the "
            "authorization server supplies a new nonce. Responses that include the DPoP-Nonce HTTP header should be "
            "uncacheable (e.g., using Cache-Control: no-store in response to a GET request) to prevent the response "
            "being used to serve a subsequent request and a stale nonce value being used as a result."
        ),
        keyword="MUST",
    ),
    "R-9-1": Requirement(
        id="R-9-1",
        source="RFC 9449 §9",
        quote=(
            "Resource servers use an HTTP 401 (Unauthorized) error code with an accompanying WWW-Authenticate: DPoP "
            "value and DPoP-Nonce value to accomplish this. [...] Note that the nonces provided by an authorization "
            "server and a resource server are different and should not be confused with one another, since nonces "
            "will be only accepted by the server that issued them."
        ),
        keyword="defined",
    ),
    # RFC 9449 §10 Authorization Code Binding to DPoP Key
    "R-10-1": Requirement(
        id="R-10-1",
        source="RFC 9449 §10",
        quote=(
            "When a token request is received, the authorization server computes the JWK thumbprint of the "
            "proof-of-possession public key in the DPoP proof and verifies that it matches the dpop_jkt parameter "
            "value in the authorization request. If they do not match, it MUST reject the request."
        ),
        keyword="MUST",
    ),
    "R-10.1-1": Requirement(
        id="R-10.1-1",
        source="RFC 9449 §10.1",
        quote=(
            "Alternatively, the DPoP header can be added to the PAR request. In this case, the authorization server "
            "MUST check the provided DPoP proof JWT as defined in Section 4.3. It MUST further behave as if the "
            "contained public key's thumbprint was provided using dpop_jkt, i.e., reject the subsequent token "
            "request unless a DPoP proof for the same key is provided."
        ),
        keyword="MUST",
    ),
    "R-10.1-2": Requirement(
        id="R-10.1-2",
        source="RFC 9449 §10.1",
        quote=(
            "Both mechanisms MUST be supported by an authorization server that supports PAR and DPoP. If both "
            "mechanisms are used at the same time, the authorization server MUST reject the request if the JWK "
            "Thumbprint in dpop_jkt does not match the public key in the DPoP header."
        ),
        keyword="MUST",
    ),
    # RFC 9449 §11 Security Considerations
    "R-11.1-1": Requirement(
        id="R-11.1-1",
        source="RFC 9449 §11.1",
        quote=(
            "To limit this, servers MUST only accept DPoP proofs for a limited time after their creation (preferably "
            "only for a relatively brief period on the order of seconds or minutes)."
        ),
        keyword="MUST",
    ),
    "R-11.1-2": Requirement(
        id="R-11.1-2",
        source="RFC 9449 §11.1",
        quote=(
            "To prevent multiple uses of the same DPoP proof, servers can store, in the context of the target URI, "
            "the jti value of each DPoP proof for the time window in which the respective DPoP proof JWT would be "
            "accepted. HTTP requests to the same URI for which the jti value has been seen before would be declined."
        ),
        keyword="none",
    ),
    "R-11.1-3": Requirement(
        id="R-11.1-3",
        source="RFC 9449 §11.1",
        quote=(
            "In order to guard against memory exhaustion attacks, a server that is tracking jti values should reject "
            "DPoP proof JWTs with unnecessarily large jti values or store only a hash thereof."
        ),
        keyword="none",
    ),
    "R-11.3-1": Requirement(
        id="R-11.3-1",
        source="RFC 9449 §11.3",
        quote=(
            "A server MUST NOT accept any DPoP proofs without the nonce claim when a DPoP nonce has been provided to "
            "the client."
        ),
        keyword="MUST NOT",
    ),
    # Other RFCs the cases rely on (confirmed against copies of their text quoted in public sources)
    # §3.5 (RSASSA-PSS: PS256, PS384, PS512) repeats the sentence word for word.
    # The key holder's duty: the one who "uses" a key to sign. §4.3 check 5 lets a server refuse a key that is
    # not "acceptable per local policy", which makes enforcing it the server's choice: at most a warning.
    "RFC7518-3.3": Requirement(
        id="RFC7518-3.3",
        source="RFC 7518 §3.3",
        quote="A key of size 2048 bits or larger MUST be used with these algorithms.",
        keyword="MUST",
        duty="client",
    ),
    # The types of the claims are the producer's duty (the proof's author writes them); a server that reads a
    # jti of another type, or a string of digits as an iat, accepts what a key holder signed: a warning.
    "RFC7519-4.1.6": Requirement(
        id="RFC7519-4.1.6",
        source="RFC 7519 §4.1.6",
        quote="Its value MUST be a number containing a NumericDate value.",
        keyword="MUST",
        duty="client",
    ),
    "RFC7519-4.1.7": Requirement(
        id="RFC7519-4.1.7",
        source="RFC 7519 §4.1.7",
        quote='The "jti" value is a case-sensitive string.',
        keyword="defined",
        duty="client",
    ),
    "RFC7519-4.1.4": Requirement(
        id="RFC7519-4.1.4",
        source="RFC 7519 §4.1.4",
        quote=(
            'The "exp" (expiration time) claim identifies the expiration time on or after which the JWT MUST NOT be '
            'accepted for processing. The processing of the "exp" claim requires that the current date/time MUST be '
            'before the expiration date/time listed in the "exp" claim.'
        ),
        keyword="MUST",
        duty="unused",
    ),
    "RFC7519-4.1.5": Requirement(
        id="RFC7519-4.1.5",
        source="RFC 7519 §4.1.5",
        quote=(
            'The "nbf" (not before) claim identifies the time before which the JWT MUST NOT be accepted for '
            'processing. The processing of the "nbf" claim requires that the current date/time MUST be after or '
            'equal to the not-before date/time listed in the "nbf" claim.'
        ),
        keyword="MUST",
        duty="unused",
    ),
    # Why exp and nbf are "unused" in a proof: RFC 9449 never names them (§4.2 lists the claims, §4.3 the checks),
    # and RFC 7519 lets a recipient that does not process a claim ignore it.
    "RFC7519-4": Requirement(
        id="RFC7519-4",
        source="RFC 7519 §4, §4.1",
        quote=(
            "Specific applications of JWTs will require implementations to understand and process some claims in "
            "particular ways. However, in the absence of such requirements, all claims that are not understood by "
            "implementations MUST be ignored. [...] None of the claims defined below are intended to be mandatory to "
            "use or implement in all cases, but rather they provide a starting point for a set of useful, "
            "interoperable claims."
        ),
        keyword="MUST",
    ),
    # The first two sentences end §2.2 (form-encoded body parameter), the last two §2.3 (URI query parameter). RFC
    # 6750 has no sentence "Clients SHOULD NOT use the URI Query Parameter method"; §2.3 says "it SHOULD NOT be used
    # unless ...". A resource server MAY accept a token in either place, so refusing one is not a failure by itself.
    "RFC6750-2": Requirement(
        id="RFC6750-2",
        source="RFC 6750 §2.2, §2.3",
        quote=(
            'The "application/x-www-form-urlencoded" method SHOULD NOT be used except in application contexts where '
            'participating browsers do not have access to the "Authorization" request header field. Resource servers '
            "MAY support this method. [...] Because of the security weaknesses associated with the URI method (see "
            "Section 5), including the high likelihood that the URL containing the access token will be logged, it "
            'SHOULD NOT be used unless it is impossible to transport the access token in the "Authorization" request '
            "header field or the HTTP request entity-body. Resource servers MAY support this method."
        ),
        keyword="MAY",
    ),
    # The description of the error code invalid_request.
    "RFC6750-3.1": Requirement(
        id="RFC6750-3.1",
        source="RFC 6750 §3.1",
        quote=(
            "The request is missing a required parameter, includes an unsupported parameter or parameter value, "
            "repeats the same parameter, uses more than one method for including an access token, or is otherwise "
            "malformed. The resource server SHOULD respond with the HTTP 400 (Bad Request) status code."
        ),
        keyword="SHOULD",
    ),
    "RFC6749-6": Requirement(
        id="RFC6749-6",
        source="RFC 6749 §6",
        quote=(
            "The authorization server MAY issue a new refresh token, in which case the client MUST discard the old "
            "refresh token and replace it with the new refresh token. The authorization server MAY revoke the old "
            "refresh token after issuing a new refresh token to the client."
        ),
        keyword="MAY",
    ),
    # FAPI 2.0 Security Profile (see the note above)
    "FAPI2-SP crypto": Requirement(
        id="FAPI2-SP crypto",
        source="FAPI 2.0 Security Profile §5.4.1",
        quote=(
            "Authorization servers, clients, and resource servers when creating or processing JWTs shall [...] use "
            "PS256, ES256, or EdDSA (using the Ed25519 variant) algorithms; and [...] not use or accept the none "
            "algorithm."
        ),
        keyword="shall",
    ),
    "FAPI2-SP rsa": Requirement(
        id="FAPI2-SP rsa",
        source="FAPI 2.0 Security Profile §5.4.1",
        quote=(
            "The following requirements apply to cryptographic operations and secrets: [...] RSA keys shall have a "
            "minimum length of 2048 bits."
        ),
        keyword="shall",
    ),
    "FAPI2-SP dpop_jkt": Requirement(
        id="FAPI2-SP dpop_jkt",
        source="FAPI 2.0 Security Profile §5.3.2.1",
        quote=(
            'Authorization servers [...] if using DPoP, shall support "Authorization Code Binding to DPoP Key" (as '
            "required by Section 10.1 of [RFC9449])"
        ),
        keyword="shall",
    ),
    "FAPI2-SP iat": Requirement(
        id="FAPI2-SP iat",
        source="FAPI 2.0 Security Profile §5.3.2.1",
        quote=(
            "Authorization servers [...] to accommodate clock offsets, shall accept JWTs with an iat or nbf "
            "timestamp between 0 and 10 seconds in the future but shall reject JWTs with an iat or nbf timestamp "
            "greater than 60 seconds in the future."
        ),
        keyword="shall",
    ),
    # Requirements on the client (issue 30: the suite plays the AS and the RS and judges a client's requests). Their
    # duty is the client's, and judged at the client their keyword decides the level directly (MUST → failed, SHOULD
    # → warning, MAY or no keyword → info); conformance/judge/client_checks.py names the check of each. RC- ids: a
    # requirement on the client.
    "RC-5-proof": Requirement(
        id="RC-5-proof",
        source="RFC 9449 §5, §7",
        quote=(
            "To request an access token that is bound to a public key using DPoP, the client MUST provide a valid "
            "DPoP proof JWT in a DPoP header when making an access token request to the authorization server's token "
            "endpoint. This is applicable for all access token requests regardless of grant type (including, for "
            "example, the common authorization_code and refresh_token grant types but also extension grants such as "
            "the JWT authorization grant [RFC7523]). [...] Requests to DPoP protected resources MUST include both a "
            "DPoP proof as per Section 4 and the access token as described in Section 7.1."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-5-one-header": Requirement(
        id="RC-5-one-header",
        source="RFC 9449 §5, §4.3",
        quote=(
            "The DPoP HTTP header field MUST contain a valid DPoP proof JWT. [...] To validate a DPoP proof, the "
            "receiving server MUST ensure that 1. there is not more than one DPoP HTTP request header field"
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-typ": Requirement(
        id="RC-4.2-typ",
        source="RFC 9449 §4.2",
        quote=(
            "The JOSE header of a DPoP JWT MUST contain at least the following parameters: typ: with value dpop+jwt, "
            "which explicitly types the DPoP proof JWT as recommended in Section 3.11 of [RFC8725]."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-alg": Requirement(
        id="RC-4.2-alg",
        source="RFC 9449 §4.2",
        quote=(
            "The JOSE header of a DPoP JWT MUST contain at least the following parameters: [...] alg: an identifier "
            "for a JWS asymmetric digital signature algorithm from [IANA.JOSE.ALGS]. MUST NOT be none or an "
            "identifier for a symmetric algorithm (MAC)."
        ),
        keyword="MUST",
        duty="client",
    ),
    # §5.1 only defines the metadata: no BCP 14 keyword binds the client to choose from it (a server refusing an
    # algorithm it did not advertise is the server's right, not the client's MUST): info.
    "RC-5.1-alg-advertised": Requirement(
        id="RC-5.1-alg-advertised",
        source="RFC 9449 §5.1",
        quote=(
            "dpop_signing_alg_values_supported: A JSON array containing a list of the JWS alg values (from the "
            "[IANA.JOSE.ALGS] registry) supported by the authorization server for DPoP proof JWTs."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-4.2-jwk": Requirement(
        id="RC-4.2-jwk",
        source="RFC 9449 §4.2",
        quote=(
            "The JOSE header of a DPoP JWT MUST contain at least the following parameters: [...] jwk: representing "
            "the public key chosen by the client, in JSON Web Key (JWK) [RFC7517] format, as defined in Section 4.1.3 "
            "of [RFC7515]. MUST NOT contain a private key."
        ),
        keyword="MUST NOT",
        duty="client",
    ),
    "RC-4.2-signature": Requirement(
        id="RC-4.2-signature",
        source="RFC 9449 §4.2, §4.3",
        quote=(
            "A DPoP proof is a JWT ([RFC7519]) that is signed (using JSON Web Signature (JWS) [RFC7515]) with a "
            "private key chosen by the client (see below). [...] To validate a DPoP proof, the receiving server MUST "
            "ensure that [...] 6. the JWT signature verifies with the public key contained in the jwk JOSE header "
            "parameter"
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-claims": Requirement(
        id="RC-4.2-claims",
        source="RFC 9449 §4.2",
        quote=(
            "The payload of a DPoP proof MUST contain at least the following claims: jti: Unique identifier for the "
            "DPoP proof JWT. [...] htm: The value of the HTTP method (Section 9.1 of [RFC9110]) of the request to "
            "which the JWT is attached. htu: The HTTP target URI (Section 7.1 of [RFC9110]), without query and "
            "fragment parts, of the request to which the JWT is attached. iat: Creation timestamp of the JWT "
            "(Section 4.1.6 of [RFC7519])."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-jti": Requirement(
        id="RC-4.2-jti",
        source="RFC 9449 §4.2, §7.3",
        quote=(
            "jti: Unique identifier for the DPoP proof JWT. The value MUST be assigned such that there is a "
            "negligible probability that the same value will be assigned to any other DPoP proof used in the same "
            "context during the time window of validity. [...] It is RECOMMENDED that clients generate a unique DPoP "
            "proof even when retrying idempotent requests in response to HTTP errors generally understood as "
            "transient."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-jti-entropy": Requirement(
        id="RC-4.2-jti-entropy",
        source="RFC 9449 §4.2",
        quote=(
            "Such uniqueness can be accomplished by encoding (base64url or any other suitable encoding) at least 96 "
            "bits of pseudorandom data or by using a version 4 UUID string according to [RFC4122]."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-4.2-htm": Requirement(
        id="RC-4.2-htm",
        source="RFC 9449 §4.2",
        quote=(
            "The payload of a DPoP proof MUST contain at least the following claims: [...] htm: The value of the HTTP "
            "method (Section 9.1 of [RFC9110]) of the request to which the JWT is attached."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-htu": Requirement(
        id="RC-4.2-htu",
        source="RFC 9449 §4.2",
        quote=(
            "The payload of a DPoP proof MUST contain at least the following claims: [...] htu: The HTTP target URI "
            "(Section 7.1 of [RFC9110]), without query and fragment parts, of the request to which the JWT is "
            "attached."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-iat": Requirement(
        id="RC-4.2-iat",
        source="RFC 9449 §4.2; RFC 7519 §4.1.6",
        quote=(
            "The payload of a DPoP proof MUST contain at least the following claims: [...] iat: Creation timestamp "
            "of the JWT (Section 4.1.6 of [RFC7519]). [...] Its value MUST be a number containing a NumericDate value."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-11.1-clock": Requirement(
        id="RC-11.1-clock",
        source="RFC 9449 §11.1",
        quote=(
            "Note: To accommodate for clock offsets, the server MAY accept DPoP proofs that carry an iat time in the "
            "reasonably near future (on the order of seconds or minutes). Because clock skews between servers and "
            "clients may be large, servers MAY limit DPoP proof lifetimes by using server-provided nonce values "
            "containing the time at the server rather than comparing the client-supplied iat time to the time at "
            "the server."
        ),
        keyword="MAY",
        duty="client",
    ),
    "RC-4.2-ath": Requirement(
        id="RC-4.2-ath",
        source="RFC 9449 §4.2",
        quote=(
            "When the DPoP proof is used in conjunction with the presentation of an access token in protected "
            "resource access, see Section 7, the DPoP proof MUST also contain the following claim: ath: hash of the "
            "access token. The value MUST be the result of a base64url encoding (as defined in Section 2 of "
            "[RFC7515]) the SHA-256 [SHS] hash of the ASCII encoding of the associated access token's value."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-4.2-nonce": Requirement(
        id="RC-4.2-nonce",
        source="RFC 9449 §4.2",
        quote=(
            "When the authentication server or resource server provides a DPoP-Nonce HTTP header in a response (see "
            "Section 8, Section 9), the DPoP proof MUST also contain the following claim: nonce: A recent nonce "
            "provided via the DPoP-Nonce HTTP header."
        ),
        keyword="MUST",
        duty="client",
    ),
    # §4.2's MUST is read as the proof answering the response that supplied the nonce (the retry); that a later
    # request (a new token, a new key) keeps using a nonce a challenge supplied is §8.2's "is expected": info.
    "RC-8.2-nonce-kept": Requirement(
        id="RC-8.2-nonce-kept",
        source="RFC 9449 §8.2, §9",
        quote=(
            "It is up to the authorization server when to supply a new nonce value for the client to use. The "
            "client is expected to use the existing supplied nonce in DPoP proofs until the server supplies a new "
            "nonce value. [...] Resource servers [...] provide the nonce using the DPoP-Nonce header in the same way "
            "that authorization servers do as described in Sections 8 and 8.2."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-9-nonce-origin": Requirement(
        id="RC-9-nonce-origin",
        source="RFC 9449 §9",
        quote=(
            "Note that the nonces provided by an authorization server and a resource server are different and should "
            "not be confused with one another, since nonces will be only accepted by the server that issued them. "
            "Likewise, should a client use multiple authorization servers and/or resource servers, a nonce issued by "
            "any of them should be used only at the issuing server."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-8.2-new-nonce": Requirement(
        id="RC-8.2-new-nonce",
        source="RFC 9449 §8.2",
        quote=(
            "A more efficient manner of supplying a new nonce value is also defined -- by including a DPoP-Nonce "
            "HTTP header in the HTTP 200 (OK) response from the previous request. The client MUST use the new nonce "
            "value supplied for the next token request, and for all subsequent token requests until the "
            "authorization server supplies a new nonce."
        ),
        keyword="MUST",
        duty="client",
    ),
    # §8.2's MUST names token requests; §9 has a resource supply nonces "in the same way", which leaves the client's
    # use of a resource's nonce on a 200 to the lower-case "is expected" of §8.2: info.
    "RC-9-new-nonce": Requirement(
        id="RC-9-new-nonce",
        source="RFC 9449 §9, §8.2",
        quote=(
            "Resource servers can also choose to provide a nonce value to be included in DPoP proofs sent to them. "
            "They provide the nonce using the DPoP-Nonce header in the same way that authorization servers do as "
            "described in Sections 8 and 8.2. [...] The client is expected to use the existing supplied nonce in DPoP "
            "proofs until the server supplies a new nonce value."
        ),
        keyword="none",
        duty="client",
    ),
    # Whether a client retries a nonce challenge at all: "will typically retry" is no BCP 14 keyword, and a client
    # that gives up sends no proof that §4.2's MUST could fault (a retry without the nonce is RC-4.2-nonce's
    # failure). So not retrying is recorded (info), never a MUST failure: it breaks the exchange, which the
    # command's exit status and the info say, but the RFC's words do not make it a violation.
    "RC-8-retry": Requirement(
        id="RC-8-retry",
        source="RFC 9449 §8, §9",
        quote=(
            "The authorization server includes a DPoP-Nonce HTTP header in the response supplying a nonce value to "
            "be used when sending the subsequent request. [...] The client will typically retry the request with the "
            "new nonce value supplied upon receiving a use_dpop_nonce error with an accompanying nonce value. [...] "
            "Resource servers use an HTTP 401 (Unauthorized) error code with an accompanying WWW-Authenticate: DPoP "
            "value and DPoP-Nonce value to accomplish this."
        ),
        keyword="none",
        duty="client",
    ),
    # Nothing in RFC 9449 bounds a client's retries; "self-correcting" is why a bounded retry is what works.
    "RC-8-bounded": Requirement(
        id="RC-8-bounded",
        source="RFC 9449 §8",
        quote=(
            "That said, transient circumstances may arise in which the server's and client's stored nonce values "
            "differ. However, this situation is self-correcting; with any rejection message, the server can send the "
            "client the nonce value that the server wants it to use and the client can store that nonce value and "
            "retry the request with it."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-7.1-scheme": Requirement(
        id="RC-7.1-scheme",
        source="RFC 9449 §7.1",
        quote=(
            "A DPoP-bound access token is sent using the Authorization request header field per Section 11.6.2 of "
            "[RFC9110] using an authentication scheme of DPoP. The syntax of the Authorization header field for the "
            "DPoP scheme uses the token68 syntax defined in Section 11.2 of [RFC9110] (repeated below for ease of "
            "reference) for credentials."
        ),
        keyword="defined",
        duty="client",
    ),
    "RC-7-key": Requirement(
        id="RC-7-key",
        source="RFC 9449 §7.1, §6",
        quote=(
            "For such an access token, a resource server MUST check that a DPoP proof was also received in the DPoP "
            "header field of the HTTP request, check the DPoP proof according to the rules in Section 4.3, and check "
            "that the public key of the DPoP proof matches the public key to which the access token is bound per "
            "Section 6."
        ),
        keyword="defined",
        duty="client",
    ),
    "RC-5-refresh-public": Requirement(
        id="RC-5-refresh-public",
        source="RFC 9449 §5",
        quote=(
            "When an authorization server supporting DPoP issues a refresh token to a public client that presents a "
            "valid DPoP proof at the token endpoint, the refresh token MUST be bound to the respective public key. "
            "The binding MUST be validated when the refresh token is later presented to get new access tokens. As a "
            "result, such a client MUST present a DPoP proof for the same key that was used to obtain the refresh "
            "token each time that refresh token is used to obtain a new access token."
        ),
        keyword="MUST",
        duty="client",
    ),
    "RC-5-refresh-confidential": Requirement(
        id="RC-5-refresh-confidential",
        source="RFC 9449 §5",
        quote=(
            "Refresh tokens issued to confidential clients (those having established authentication credentials with "
            "the authorization server) are not bound to the DPoP proof public key because they are already "
            "sender-constrained with a different existing mechanism. [...] This existing sender-constraining "
            "mechanism is more flexible (e.g., it allows credential rotation for the client without invalidating "
            "refresh tokens) than binding directly to a particular public key."
        ),
        keyword="none",
        duty="client",
    ),
    "RC-10-dpop-jkt": Requirement(
        id="RC-10-dpop-jkt",
        source="RFC 9449 §10",
        quote=(
            "The value of the dpop_jkt authorization request parameter is the JWK Thumbprint [RFC7638] of the "
            "proof-of-possession public key using the SHA-256 hash function, which is the same value as used for the "
            "jkt confirmation method defined in Section 6.1."
        ),
        keyword="defined",
        duty="client",
    ),
    # The MUST is conditional on what the application deems important, which the suite cannot know: what a client
    # does with a token answer saying Bearer is recorded (info).
    "RC-5-token-type": Requirement(
        id="RC-5-token-type",
        source="RFC 9449 §5",
        quote=(
            "If the access token response contains a different token_type value than DPoP, the access token "
            "protection provided by DPoP is not given. The client MUST discard the response in this case, if this "
            "protection is deemed important for the security of the application; otherwise, it may continue as in a "
            "regular OAuth interaction."
        ),
        keyword="MUST",
        duty="client",
    ),
}
"""Every requirement a case declares, by id."""


def requirement(req_id: str) -> Requirement:
    """The requirement with id `req_id`; KeyError naming the id (and the known ids) when there is none."""
    try:
        return REQUIREMENTS[req_id]
    except KeyError:
        known = ", ".join(sorted(REQUIREMENTS))
        raise KeyError(f"unknown requirement id {req_id!r}: conformance/judge/requirements.py has {known}") from None
