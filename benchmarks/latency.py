"""Wall time of the catalog against a distant server: the reference server behind a delaying proxy.

    python benchmarks/latency.py [--delays 0,25,50] [--concurrency 1,4] [--workers 4]

A loopback TCP proxy (in this file) holds every chunk for half the round trip in each direction, as a
link of that latency would: a chunk that arrives at t is delivered at t + delay, in order. The reference
server runs in this process, behind the proxy, with the proxy's URL as its public one (issuer, endpoints,
htu). For each round trip and each `--concurrency` value (1 is serial, 4 the default), and each
`--workers` value (xdist processes, each serial), the benchmark runs `dpop-conformance run` on the fixed
catalog (fuzz cases left out) and prints:

- the wall time and the requests sent;
- the critical path it computed from junit.xml: the requests of the longest chain (a case's requests
  follow one another, and so do the cases of one lane) plus the preflight's two, times the round trip.
  That is the least any scheduling could reach at this latency;
- the floor that N requests in flight set: all the requests, times the round trip, over N;
- the ratio wall / critical path, and whether the verdicts equal those of the first run.

It prints figures and asserts nothing (README, "Performance").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.judge.catalog import load_cases
from conformance.reference import RunningServer, ServerSettings
from conformance.run.cases_folder import locate_cases


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delays each direction by `one_way_s` (a thread with its own loop)."""

    def __init__(self, upstream_port: int, one_way_s: float) -> None:
        self.upstream_port, self.one_way_s = upstream_port, one_way_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.one_way_s, data))
        except OSError:
            pass
        queue.put_nowait((time.monotonic() + self.one_way_s, b""))
        await sender


def _run(config: Path, report: Path, how: list[str]) -> tuple[float, dict[str, Any]]:
    args = [sys.executable, "-m", "conformance", "run", "-q", "--config", str(config), "--report-dir", str(report)]
    args += how
    start = time.perf_counter()
    subprocess.run([*args, "--", "-m", "not fuzz"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    return wall, json.loads((report / "results.json").read_text())


def _critical_path(report: Path) -> int:
    """Round trips that must follow one another: the preflight's two, then the longest chain of cases.

    A case's requests follow one another, and so do the cases of one lane (conformance/judge/catalog.py, `lane`:
    nonces, replay, iat windows, refresh chains), which run in turn. Each case's requests, per origin, are
    junit.xml's `dpop_requests` property.
    """
    lanes = {info.id: info.lane for info in load_cases(locate_cases()).values()}
    chains: dict[str, int] = {}
    for case in ET.parse(report / "junit.xml").getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
        if "dpop_case" not in props:
            continue
        sent = sum(json.loads(props.get("dpop_requests") or "{}").values())
        chain = lanes.get(props["dpop_case"]) or props["dpop_case"]
        chains[chain] = chains.get(chain, 0) + sent
    return 2 + max(chains.values(), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="0,25,50", help="round trips in ms, comma-separated")
    parser.add_argument("--concurrency", default="1,4", help="--concurrency values to time, comma-separated")
    parser.add_argument("--workers", default="", help="--workers values to time too (each worker serial)")
    options = parser.parse_args()
    runs = [(f"concurrency {n}", ["--concurrency", n]) for n in options.concurrency.split(",") if n]
    runs += [(f"workers {n}", ["--workers", n, "--concurrency", "1"]) for n in options.workers.split(",") if n]
    reference: dict[str, str] | None = None
    print(
        f"{'round trip':>10} {'run':>14} {'wall s':>7} {'requests':>8} {'crit. path':>14} {'ratio':>6} "
        f"{'N in flight':>11}  verdicts"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for rtt_ms in (int(v) for v in options.delays.split(",")):
            # the proxy's port is the server's public URL: bind the proxy first, then start the server
            proxy = DelayProxy(0, rtt_ms / 2000)
            proxy.start()
            server = RunningServer(ServerSettings(nonce="both"), public_url=f"http://127.0.0.1:{proxy.port}")
            server.start()
            proxy.upstream_port = int(server.listen_url.rsplit(":", 1)[1])
            config = server.write_target_file(Path(scratch) / f"rtt{rtt_ms}.toml")
            for i, (label, how) in enumerate(runs):
                wall, results = _run(config, Path(scratch) / f"r{rtt_ms}-{i}", how)
                outcomes = {c["id"]: c["outcome"] for c in results["cases"]}
                reference = reference or outcomes
                steps = _critical_path(Path(scratch) / f"r{rtt_ms}-{i}")
                path_s = steps * rtt_ms / 1000
                ratio = f"{wall / path_s:6.1f}" if path_s else "     -"
                same = "same" if outcomes == reference else "DIFFER"
                sent = sum(results["requests"].values())
                in_flight = int(how[1])  # --concurrency N, or --workers N (each process serial)
                floor = f"{sent * rtt_ms / 1000 / in_flight:9.2f} s"
                print(
                    f"{rtt_ms:>8} ms {label:>14} {wall:>7.1f} {sent:>8} {steps:>4} = {path_s:5.2f} s {ratio} "
                    f"{floor}  {same}"
                )
            server.stop()
            proxy.stop()


if __name__ == "__main__":
    main()
