#!/usr/bin/env node
// Reference Socket.IO 4.8 server for the sioclient interop tests.
//
// Usage: node server.js [--port N] [--ping-interval MS] [--ping-timeout MS]
//                       [--recovery] [--max-disconnection MS] [--redis URL]
//                       [--tls-cert FILE --tls-key FILE] [--path PATH]
//                       [--max-http-buffer-size BYTES] [--transports LIST]
//                       [--cookie] [--run-middlewares-on-recovery]
//                       [--keep-alive-timeout MS] [--parser msgpack]
//                       [--no-stdin]
//
// Prints exactly one line `LISTENING <port>` on stdout once it accepts
// connections, then one JSON object per line for every notable server-side
// happening (see the `log` calls below). Exits on SIGTERM/SIGINT and when
// its stdin is closed (unless --no-stdin), so a crashed test runner never
// leaves servers behind.
"use strict";

const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require("socket.io");

function usage(msg) {
  process.stderr.write(`server.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    port: 0,
    pingInterval: 25000,
    pingTimeout: 20000,
    recovery: false,
    maxDisconnection: 120000,
    redis: null,
    tlsCert: null,
    tlsKey: null,
    path: "/socket.io/",
    maxHttpBufferSize: 1e6,
    transports: null,
    cookie: false,
    skipMiddlewares: true,
    keepAliveTimeout: null,
    parser: null,
    watchStdin: true,
  };
  const int = (name, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) {
      usage(`${name} needs a non-negative integer, got ${v}`);
    }
    return n;
  };
  const str = (name, v) => {
    if (v === undefined) usage(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--port":
        opts.port = int(a, argv[++i]);
        break;
      case "--ping-interval":
        opts.pingInterval = int(a, argv[++i]);
        break;
      case "--ping-timeout":
        opts.pingTimeout = int(a, argv[++i]);
        break;
      case "--recovery":
        opts.recovery = true;
        break;
      case "--max-disconnection":
        opts.maxDisconnection = int(a, argv[++i]);
        break;
      case "--redis":
        opts.redis = str(a, argv[++i]);
        break;
      case "--tls-cert":
        opts.tlsCert = str(a, argv[++i]);
        break;
      case "--tls-key":
        opts.tlsKey = str(a, argv[++i]);
        break;
      case "--path":
        opts.path = str(a, argv[++i]);
        break;
      case "--max-http-buffer-size":
        opts.maxHttpBufferSize = int(a, argv[++i]);
        break;
      case "--cookie":
        opts.cookie = true;
        break;
      case "--run-middlewares-on-recovery":
        opts.skipMiddlewares = false;
        break;
      case "--transports":
        opts.transports = str(a, argv[++i]).split(",");
        break;
      case "--keep-alive-timeout":
        opts.keepAliveTimeout = int(a, argv[++i]);
        break;
      case "--no-stdin":
        opts.watchStdin = false;
        break;
      case "--log-packets":
        opts.logPackets = true;
        break;
      case "--parser":
        opts.parser = str(a, argv[++i]);
        if (opts.parser !== "msgpack") usage(`unknown parser ${opts.parser}`);
        break;
      default:
        usage(`unknown option ${a}`);
    }
  }
  if (!!opts.tlsCert !== !!opts.tlsKey) {
    usage("--tls-cert and --tls-key go together");
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// One JSON object per line on stdout.
function log(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// Per-client lists of the numbers received with `seq`, keyed by
// `handshake.auth.client` (or the socket id when absent).
const seqs = new Map();

function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

function setupNamespace(io, name) {
  const nsp = io.of(name);

  nsp.use((socket, next) => {
    const auth = socket.handshake.auth || {};
    if (auth.reject) {
      log({ ev: "rejected", nsp: name, auth });
      next(
        Object.assign(new Error("rejected by middleware"), {
          data: { code: 42 },
        }),
      );
      return;
    }
    next();
  });

  nsp.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    const clientKey =
      auth.client !== undefined && auth.client !== null
        ? String(auth.client)
        : socket.id;
    log({
      ev: "connection",
      nsp: name,
      id: socket.id,
      engine: socket.conn.id,
      transport: socket.conn.transport.name,
      recovered: socket.recovered,
      auth,
    });
    socket.conn.once("upgrade", (transport) => {
      log({ ev: "upgrade", nsp: name, id: socket.id, transport: transport.name });
    });

    socket.on("disconnect", (reason) => {
      log({ ev: "disconnect", nsp: name, id: socket.id, reason });
    });

    // `auth.welcome = N`: N events right on connection, before the client
    // can have asked for anything.
    const welcome = Number(auth.welcome) || 0;
    for (let i = 1; i <= welcome; i++) {
      socket.emit("welcome", i);
    }

    // `big` with a length: answered with an event holding a string that long.
    socket.on("big", (length) => {
      socket.emit("big", "x".repeat(Number(length) || 0));
    });

    socket.on("echo", (...raw) => {
      const [args, ack] = splitAck(raw);
      log({ ev: "echo", nsp: name, id: socket.id, args });
      socket.emit("echo", ...args);
      if (ack) ack(...args);
    });

    socket.on("never-ack", () => {
      log({ ev: "never-ack", nsp: name, id: socket.id });
    });

    socket.on("ask-ack", (payload) => {
      socket.timeout(5000).emit("server-ack", payload, (err, ...reply) => {
        if (err) {
          socket.emit("ack-confirmed", { error: String(err) });
          log({ ev: "ack-confirmed", nsp: name, id: socket.id, reply: null, error: String(err) });
        } else {
          socket.emit("ack-confirmed", reply);
          log({ ev: "ack-confirmed", nsp: name, id: socket.id, reply });
        }
      });
    });

    socket.on("multi", () => {
      socket.emit("multi", 1, "two", { three: 3 });
    });

    socket.on("disconnect-me", () => {
      socket.disconnect();
    });

    socket.on("seq", (...raw) => {
      const [args, ack] = splitAck(raw);
      const n = args[0];
      if (!seqs.has(clientKey)) seqs.set(clientKey, []);
      seqs.get(clientKey).push(n);
      log({ ev: "seq", n, id: socket.id, client: clientKey, nsp: name });
      if (ack) ack(n);
    });

    socket.on("seq-report", (...raw) => {
      const [, ack] = splitAck(raw);
      if (ack) ack(seqs.get(clientKey) || []);
    });

    socket.on("whoami", (...raw) => {
      const [, ack] = splitAck(raw);
      if (!ack) return;
      ack({
        id: socket.id,
        engine: socket.conn.id,
        nsp: socket.nsp.name,
        auth: socket.handshake.auth,
        query: socket.handshake.query,
        headers: socket.handshake.headers,
        recovered: socket.recovered,
      });
    });

    socket.on("stream", (params) => {
      const p = params || {};
      const count = Number(p.count) || 0;
      const intervalMs = Number(p.interval_ms) || 0;
      const evName = p.name || "tick";
      const binary = !!p.binary;
      // Emit to the socket's own room (not through the socket object) so the
      // timer survives the client disconnecting, and so that, with
      // connectionStateRecovery, events emitted while the client is away are
      // stored and replayed on recovery. `room` lets another client stream
      // to this socket from another node of a cluster.
      const room = p.room || socket.id;
      log({ ev: "stream-start", nsp: name, id: room, name: evName, count });
      let n = 0;
      const tick = () => {
        if (n >= count) {
          log({ ev: "stream-done", nsp: name, id: room, name: evName, count });
          return;
        }
        n++;
        if (binary && n % 10 === 0) {
          nsp.to(room).emit(evName, n, Buffer.from([n & 255]));
        } else {
          nsp.to(room).emit(evName, n);
        }
        setTimeout(tick, intervalMs);
      };
      setTimeout(tick, intervalMs);
    });

    socket.on("stream-ack", () => {
      socket.timeout(5000).emit("needs-ack", 1, "two", (err, ...reply) => {
        if (err) {
          socket.emit("ack-confirmed", { error: String(err) });
          log({ ev: "ack-confirmed", nsp: name, id: socket.id, reply: null, error: String(err) });
        } else {
          socket.emit("ack-confirmed", reply);
          log({ ev: "ack-confirmed", nsp: name, id: socket.id, reply });
        }
      });
    });

    socket.on("volatile", (n) => {
      socket.volatile.emit("vol", n);
    });

    // An upload: a description and the bytes; the receipt says what arrived.
    socket.on("upload", (meta, data, ack) => {
      if (typeof ack !== "function") return;
      const bytes = Buffer.isBuffer(data) ? data : Buffer.alloc(0);
      const sum = bytes.reduce((total, byte) => (total + byte) % 65536, 0);
      log({ ev: "upload", nsp: name, id: socket.id, name: meta && meta.name, size: bytes.length });
      ack({ name: String((meta && meta.name) || ""), size: bytes.length, sum });
    });

    socket.on("kill-engine", () => {
      socket.conn.close();
    });
  });
}

async function main() {
  const serverOpts = {
    path: opts.path,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxHttpBufferSize,
  };
  if (opts.parser === "msgpack") {
    serverOpts.parser = require("socket.io-msgpack-parser");
  }
  if (opts.transports) {
    serverOpts.transports = opts.transports;
  }
  if (opts.cookie) {
    // The Engine.IO session cookie, as load balancers with cookie affinity use.
    serverOpts.cookie = { name: "io", path: "/", httpOnly: true, sameSite: "lax" };
  }
  if (opts.recovery) {
    serverOpts.connectionStateRecovery = {
      maxDisconnectionDuration: opts.maxDisconnection,
      skipMiddlewares: opts.skipMiddlewares,
    };
  }
  let redisClient = null;
  if (opts.redis) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    redisClient = createClient({ url: opts.redis });
    redisClient.on("error", (err) => {
      log({ ev: "redis_error", error: String(err) });
    });
    await redisClient.connect();
    serverOpts.adapter = createAdapter(redisClient);
  }

  const httpServer = opts.tlsCert
    ? https.createServer({
        cert: fs.readFileSync(opts.tlsCert),
        key: fs.readFileSync(opts.tlsKey),
      })
    : http.createServer();

  if (opts.keepAliveTimeout !== null) {
    httpServer.keepAliveTimeout = opts.keepAliveTimeout;
  }
  // Each TCP connection the server closes or loses, for tests of what a
  // client does when its kept-alive connection goes.
  httpServer.on("connection", (tcp) => {
    tcp.on("close", () => log({ ev: "tcp_close" }));
  });

  const io = new Server(httpServer, serverOpts);

  io.engine.on("connection", (conn) => {
    log({ ev: "engine_connection", engine: conn.id });
    if (opts.logPackets) {
      // Every Socket.IO packet as received, for tests that check exact frames.
      conn.on("packet", (packet) => {
        if (packet.type === "message") {
          const data = typeof packet.data === "string" ? packet.data : "<binary>";
          log({ ev: "packet", engine: conn.id, data });
        }
      });
    }
    // The client's answers to the heartbeat, for tests that wait for a few.
    conn.on("heartbeat", () => log({ ev: "heartbeat", engine: conn.id }));
    conn.on("close", (reason) => {
      log({ ev: "engine_close", engine: conn.id, reason });
    });
  });
  io.engine.on("connection_error", (err) => {
    log({ ev: "engine_connection_error", code: err.code, message: err.message });
  });

  setupNamespace(io, "/");
  setupNamespace(io, "/admin");

  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    log({ ev: "shutdown", why });
    // Do not wait long for a graceful close: a test runner that went away
    // must not keep this process alive.
    setTimeout(() => process.exit(0), 1000).unref();
    io.close(() => {
      const done = () => process.exit(0);
      if (redisClient) {
        redisClient.quit().then(done, done);
      } else {
        done();
      }
    });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  if (opts.watchStdin) {
    process.stdin.on("data", () => {});
    process.stdin.on("end", () => shutdown("stdin closed"));
    process.stdin.on("error", () => shutdown("stdin error"));
    process.stdin.resume();
  }

  httpServer.on("error", (err) => {
    process.stderr.write(`server.js: ${err.stack || err}\n`);
    process.exit(1);
  });
  httpServer.listen(opts.port, "127.0.0.1", () => {
    process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
  });
}

main().catch((err) => {
  process.stderr.write(`server.js: ${err.stack || err}\n`);
  process.exit(1);
});
