// loopback_only.mjs: preloaded into the reference server (node --import) so
// that its HTTP listener binds 127.0.0.1 instead of every interface: a
// benchmark must not open a port to the network. It adds the host argument
// to net.Server.listen(port[, callback]) calls that give none.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const port = args[0];
  const isPort = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port));
  if (isPort && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
