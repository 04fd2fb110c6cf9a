#!/usr/bin/env node
// A socket.io 2.x server (Engine.IO v3), for the tests that check that the
// client refuses servers it cannot speak to.
//
// Usage: node server.js [--port N] [--no-stdin]
//
// Prints `LISTENING <port>` once it accepts connections, then one JSON
// object per line for every connection and echo. Exits on SIGTERM/SIGINT and
// when its stdin is closed (unless --no-stdin).
"use strict";

const http = require("http");

function usage(msg) {
  process.stderr.write(`server.js: ${msg}\n`);
  process.exit(2);
}

const opts = { port: 0, watchStdin: true };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  switch (argv[i]) {
    case "--port":
      opts.port = Number(argv[++i]);
      if (!Number.isInteger(opts.port)) usage("--port needs an integer");
      break;
    case "--no-stdin":
      opts.watchStdin = false;
      break;
    default:
      usage(`unknown option ${argv[i]}`);
  }
}

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const httpServer = http.createServer();
const io = require("socket.io")(httpServer);

io.on("connection", (socket) => {
  log({ ev: "connection", id: socket.id });
  socket.on("echo", (...args) => {
    log({ ev: "echo", id: socket.id });
    socket.emit("echo", ...args.filter((a) => typeof a !== "function"));
  });
  socket.on("disconnect", (reason) => log({ ev: "disconnect", id: socket.id, reason }));
});

const shutdown = () => {
  setTimeout(() => process.exit(0), 500).unref();
  io.close(() => process.exit(0));
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
if (opts.watchStdin) {
  process.stdin.on("data", () => {});
  process.stdin.on("end", shutdown);
  process.stdin.on("error", shutdown);
  process.stdin.resume();
}

httpServer.listen(opts.port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
