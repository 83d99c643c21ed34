"""Speed of a whole run against the reference server on loopback, next to a bare httpx loop.

    python benchmarks/full_run.py [--repeat N] [--nonce none|as|rs|both] [--fuzz]

The reference server runs in its own process (`dpop-conformance serve`). The benchmark then:

1. runs `dpop-conformance run` (the full rfc9449 catalog, fuzz cases left out, as the README's first
   command but without fuzzing) --repeat times, and reports the median wall time, the requests sent,
   the time spent waiting for answers (results.json `timing.waiting_s`) and the rest, the suite's own
   time: interpreter start, collection, proof building and signing, bookkeeping, reports;
2. runs a bare loop, as a program of its own (this file with --bare-loop), that sends the same number of
   valid DPoP requests (httpx, `cryptography` ES256, a fresh proof each time, the server's nonces
   followed; token and resource requests in turn), and reports the same figures;
3. runs the same loop with the suite's own client (DPoPSession: proof builder, signing, nonce handling,
   recording and redaction of every exchange), to price the suite's work per request without pytest;
4. with --fuzz, runs the fuzz cases alone and reports their throughput.

It prints figures and asserts nothing; targets are checked by eye (README, "Performance").
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from conformance.client.request import Request
from conformance.reference.process import reference_server


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of the suite (the median is reported; default 5)")
    parser.add_argument("--nonce", default="both", choices=("none", "as", "rs", "both"), help="default: both")
    parser.add_argument("--fuzz", action="store_true", help="also measure the fuzz cases' throughput")
    parser.add_argument("--bare-loop", nargs=2, metavar=("CONFIG", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--suite-loop", nargs=2, metavar=("CONFIG", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_loop:  # the bare loop's own process: its figures go to the parent as JSON
        print(json.dumps(bare_loop(Path(args.bare_loop[0]), int(args.bare_loop[1]))))
        return 0
    if args.suite_loop:
        print(json.dumps(suite_client_loop(Path(args.suite_loop[0]), int(args.suite_loop[1]))))
        return 0
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; reference server nonces: {args.nonce}")
    with tempfile.TemporaryDirectory() as scratch, reference_server(args.nonce) as config:
        runs = [suite_run(config, Path(scratch) / f"run{i}", ["-m", "not fuzz"]) for i in range(args.repeat)]
        report_suite("full catalog, fuzz cases left out", runs)
        requests = int(statistics.median(r["requests"] for r in runs))
        bare = [bare_program(config, requests, "--bare-loop") for _ in range(args.repeat)]
        report_bare("bare httpx loop program", bare)
        client = [bare_program(config, requests, "--suite-loop") for _ in range(args.repeat)]
        report_bare("the same loop with the suite's client (DPoPSession), no pytest", client)
        suite_own = statistics.median(r["own_s"] / r["requests"] for r in runs)
        bare_own = statistics.median(b["own_s"] / b["requests"] for b in bare)
        bare_loop_own = statistics.median((b["loop_s"] - b["waiting_s"]) / b["requests"] for b in bare)
        suite_all = statistics.median(r["wall_s"] / r["requests"] for r in runs)
        bare_all = statistics.median(b["wall_s"] / b["requests"] for b in bare)
        in_cases = statistics.median((r["cases_s"] - r["waiting_s"]) / r["requests"] for r in runs)
        print("per request, suite / bare loop:")
        print(f"  whole time                   {ms(suite_all)} / {ms(bare_all)} = {suite_all / bare_all:.2f}x")
        print(f"  own time (not waiting)       {ms(suite_own)} / {ms(bare_own)} = {suite_own / bare_own:.2f}x")
        print(
            f"  own time in the requests     {ms(in_cases)} / {ms(bare_loop_own)} = {in_cases / bare_loop_own:.2f}x"
            "   (inside the cases / inside the loop: no start-up on either side)"
        )
        client_own = statistics.median((c["loop_s"] - c["waiting_s"]) / c["requests"] for c in client)
        ratio = client_own / bare_loop_own
        print(
            f"  the client alone, same loop  {ms(client_own)} / {ms(bare_loop_own)} = {ratio:.2f}x"
            "   (proof, signing, nonces, recording, redaction)"
        )
        if args.fuzz:
            fuzz = [suite_run(config, Path(scratch) / f"fuzz{i}", ["-m", "fuzz"]) for i in range(args.repeat)]
            report_suite("fuzz cases alone (quick profile, seed 1)", fuzz)
            rate = statistics.median(r["requests"] / r["cases_s"] for r in fuzz)
            print(f"  fuzz throughput              {rate:.0f} requests/s (inside the cases)")
    return 0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def suite_run(config: Path, out: Path, selection: list[str]) -> dict[str, float]:
    """One `dpop-conformance run`; its wall time and what results.json says of it."""
    command = [sys.executable, "-m", "conformance", "run", "--config", str(config), "--report-dir", str(out)]
    start = time.perf_counter()
    done = subprocess.run([*command, "--fuzz-seed", "1", "--", *selection], capture_output=True, text=True)
    wall = time.perf_counter() - start
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    if done.returncode != 0:
        print(f"  (the run ended with status {done.returncode}: {results['summary']})")
    requests = sum(results["requests"].values())
    waiting = results["timing"]["waiting_s"]
    cases = sum(c["duration_s"] for c in results["cases"])
    return {
        "wall_s": wall,
        "session_s": results["duration_s"],
        "cases_s": cases,
        "requests": requests,
        "waiting_s": waiting,
        "own_s": wall - waiting,
        "count": len(results["cases"]),
    }


def report_suite(title: str, runs: list[dict[str, float]]) -> None:
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"dpop-conformance run, {title} ({len(runs)} runs, median):")
    print(f"  cases                        {med['count']:.0f}")
    print(f"  requests                     {med['requests']:.0f}")
    each = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
    print(f"  wall time (whole command)    {med['wall_s']:.2f} s   (runs: {each})")
    print(f"  pytest session               {med['session_s']:.2f} s")
    print(f"  inside the cases             {med['cases_s']:.2f} s")
    print(f"  waiting for the server       {med['waiting_s']:.2f} s")
    print(f"  suite's own time             {med['own_s']:.2f} s = {ms(med['own_s'] / med['requests'])} per request")


# --- the bare loop ------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BareClient:
    """The least a DPoP client must do: sign a fresh ES256 proof per request and follow the server's nonces."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }
        self.nonce: dict[str, str] = {}
        self.http = httpx.Client(timeout=10)
        self.waited = 0.0
        self.sent = 0

    def proof(self, method: str, url: str, token: str | None = None) -> str:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if token:
            claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
        origin = url.split("/", 3)[2]
        if origin in self.nonce:
            claims["nonce"] = self.nonce[origin]
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def send(
        self, method: str, url: str, token: str | None = None, auth: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        for _ in range(2):  # at most one retry, after a nonce challenge
            headers = {"DPoP": self.proof(method, url, token)}
            if token:
                headers["Authorization"] = f"DPoP {token}"
            elif auth:
                headers["Authorization"] = auth
            request = self.http.build_request(method, url, headers=headers, **kwargs)
            start = time.perf_counter()  # measured as the suite measures it: from send to the whole answer
            response = self.http.send(request)
            self.waited += time.perf_counter() - start
            self.sent += 1
            if "DPoP-Nonce" in response.headers:
                self.nonce[url.split("/", 3)[2]] = response.headers["DPoP-Nonce"]
            challenge = response.headers.get("WWW-Authenticate", "") + response.text
            if response.status_code not in (400, 401) or "use_dpop_nonce" not in challenge:
                break
        return response


def bare_loop(config: Path, requests: int) -> dict[str, float]:
    """`requests` valid DPoP requests, token and resource in turn; wall time and time waiting."""
    target = tomllib.loads(config.read_text())
    token_url = target["authorization_server"]["token_endpoint"]
    resource_url = target["resource_server"]["url"]
    basic = base64.b64encode(f"{target['client']['id']}:{target['client']['secret']}".encode()).decode()
    start = time.perf_counter()
    client = BareClient()
    token = ""
    while client.sent < requests:
        response = client.send("POST", token_url, data={"grant_type": "client_credentials"}, auth=f"Basic {basic}")
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        if client.sent < requests:
            response = client.send("GET", resource_url, token)
            assert response.status_code == 200, response.text
    wall = time.perf_counter() - start
    client.http.close()
    return {"wall_s": wall, "requests": client.sent, "waiting_s": client.waited, "own_s": wall - client.waited}


def suite_client_loop(config: Path, requests: int) -> dict[str, float]:
    """The bare loop's requests, sent with the suite's own client instead."""
    from conformance.client.target import load_target
    from conformance.judge.session import DPoPSession

    start = time.perf_counter()
    session = DPoPSession(load_target(config))
    sent = 0
    while sent < requests:
        issued = session.request_token(Request(label="token request"))
        sent += len(issued.exchanges)
        assert issued.final.status == 200, issued.final.summary()
        token = issued.final.json_object()["access_token"]
        if sent < requests:
            called = session.call_resource(token, Request(label="resource request", key=session.key))
            sent += len(called.exchanges)
            assert called.final.ok, called.final.summary()
        session.client.log = []  # as the plugin does for each case
    wall = time.perf_counter() - start
    session.close()
    return {
        "wall_s": wall,
        "requests": sent,
        "waiting_s": session.client.transport.waited_s,
        "own_s": wall - session.client.transport.waited_s,
    }


def bare_program(config: Path, requests: int, mode: str) -> dict[str, float]:
    """A loop as a program of its own: wall time from outside, as for the suite's command."""
    start = time.perf_counter()
    command = [sys.executable, __file__, mode, str(config), str(requests)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    inner = json.loads(done.stdout)
    return {**inner, "loop_s": inner["wall_s"], "wall_s": wall, "own_s": wall - inner["waiting_s"]}


def report_bare(title: str, runs: list[dict[str, float]]) -> None:
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"{title}, the same number of valid DPoP requests ({len(runs)} runs, median):")
    print(f"  requests                     {med['requests']:.0f}")
    print(f"  wall time (whole program)    {med['wall_s']:.2f} s   (the loop itself: {med['loop_s']:.2f} s)")
    print(f"  waiting for the server       {med['waiting_s']:.2f} s")
    loop_own = (med["loop_s"] - med["waiting_s"]) / med["requests"]
    print(f"  own time                     {med['own_s']:.2f} s = {ms(med['own_s'] / med['requests'])} per request")
    print(f"  own time in the loop         {ms(loop_own)} per request")


if __name__ == "__main__":
    raise SystemExit(main())
