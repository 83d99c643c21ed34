// Settings shared by as.js and rs.js: everything comes from the environment, with defaults.
//
//   AS_PORT    the authorization server's port (default 4100)
//   RS_PORT    the resource server's port (default 4200)
//   WATCH_PID  optional: exit when the process with this id is gone (start.sh's caller), so a test run
//              that is killed never leaves servers behind

export const HOST = '127.0.0.1';

function port(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`);
  }
  return value;
}

export const AS_PORT = port('AS_PORT', 4100);
export const RS_PORT = port('RS_PORT', 4200);
export const ISSUER = `http://${HOST}:${AS_PORT}`;
// the one protected resource: its URL is the audience (RFC 8707 resource indicator) of every access token
export const RESOURCE = `http://${HOST}:${RS_PORT}/resource`;

export function exitWithWatchedProcess(name) {
  const pid = Number(process.env.WATCH_PID || 0);
  if (!pid) return;
  setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if (err.code === 'ESRCH') {
        console.error(`${name}: process ${pid} (WATCH_PID) is gone, exiting`);
        process.exit(0);
      }
    }
  }, 1000).unref();
}

export function listening(name, server) {
  server.on('error', (err) => {
    console.error(`${name}: cannot listen: ${err.message}`);
    process.exit(1);
  });
}
