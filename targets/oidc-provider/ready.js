// Waits until every server answers HTTP: `node ready.js TIMEOUT_S PID=URL...`. Exits 0 when each URL gave
// an HTTP answer, 1 (naming the silent ones) when a server's process ended or the time ran out.
import { readFileSync } from 'node:fs';

const [timeoutArg, ...targets] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const pending = new Map(targets.map((t) => [t.slice(t.indexOf('=') + 1), Number(t.slice(0, t.indexOf('=')))]));

// a process that has ended but is not reaped yet (a zombie) counts as ended
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    // no /proc (not Linux): ask the kernel whether the pid exists
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

while (pending.size) {
  for (const [url, pid] of pending) {
    if (!alive(pid)) {
      console.error(`ready.js: the server for ${url} (pid ${pid}) has exited`);
      process.exit(1);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
      pending.delete(url);
    } catch {
      // not listening yet
    }
  }
  if (!pending.size) break;
  if (Date.now() > deadline) {
    console.error(`ready.js: no answer within ${timeoutArg} s from ${[...pending.keys()].join(', ')}`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
