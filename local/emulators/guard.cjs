// Preloaded into every emulator child process (node -r). Two guarantees the emulators do not give
// on their own: they listen on loopback only, and they exit when the process that started them is
// gone (a crashed test run must not leave servers behind).
const net = require('node:net');

const WILDCARD = new Set([undefined, null, '', '0.0.0.0', '::', '::0']);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function patchedListen(...args) {
  const [first] = args;
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    if (WILDCARD.has(first.host)) args[0] = { ...first, host: '127.0.0.1' };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] === 'string') {
      if (WILDCARD.has(args[1])) args[1] = '127.0.0.1';
    } else {
      args.splice(1, 0, '127.0.0.1');
    }
  }
  return listen.apply(this, args);
};

const parent = Number(process.env.CDP_PARENT_PID);
if (parent) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}
