"""Redaction cost by the number of secrets known: the redactor's one pass against one search per secret.

    python benchmarks/redaction.py

Registers 10, 200 and 2,000 JWT-like tokens (as many as a run may learn), then redacts texts of 10 KB (a
case's evidence) and 256 KB (the ceiling of one case's evidence) with one of the tokens inside. Prints
milliseconds per text for `Redactor.redact` and for the naive way (one `in` and `replace` per secret), and
the time to learn 2,000 tokens with a redaction after each (the automaton is rebuilt as they come).
Asserts only that the token was redacted.
"""

from __future__ import annotations

import secrets
import time

from conformance.client.evidence import Redactor

REPEAT = 20


def _per_text(work: object, text: str) -> float:
    start = time.perf_counter()
    for _ in range(REPEAT):
        work(text)  # type: ignore[operator]
    return (time.perf_counter() - start) / REPEAT * 1000


def main() -> int:
    print(f"{'secrets':>8} {'text':>9} {'one pass':>10} {'per secret':>11}")
    for count in (10, 200, 2000):
        redactor = Redactor()
        tokens = ["eyJhbGciOiJFUzI1NiJ9." + secrets.token_urlsafe(300) for _ in range(count)]
        for token in tokens:
            redactor.add(token, "access_token", learned=True)
        for size in (10_000, 256_000):
            filler = ("HTTP 200 an evidence line with words and {json: 1} " * (size // 50))[:size]
            text = filler[: size // 2] + tokens[-1] + filler[size // 2 :]
            assert tokens[-1] not in redactor.redact(text)

            def naive(text: str, tokens: list[str] = tokens) -> str:
                for token in tokens:
                    if token in text:
                        text = text.replace(token, "<redacted>")
                return text

            one_pass = _per_text(redactor.redact, text)
            each = _per_text(naive, text)
            print(f"{count:>8} {size // 1000:>7}KB {one_pass:>8.2f}ms {each:>9.2f}ms")
    redactor = Redactor()
    start = time.perf_counter()
    for _ in range(2000):
        redactor.add(secrets.token_urlsafe(300), "access_token", learned=True)
        redactor.redact("a short message")
    print(f"learning 2,000 tokens, redacting after each: {time.perf_counter() - start:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
