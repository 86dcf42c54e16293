// node-hello: a tiny HTTP server used by s2i-bot's tests. Its one dependency (ms) comes
// from the npm registry through `npm ci`, so the build proves the registry is reachable.
const http = require("http");
const ms = require("ms");

const port = Number(process.env.PORT || 8080);
const started = Date.now();

http
  .createServer((req, res) => {
    if (req.url === "/healthz") {
      res.end("ok\n");
    } else if (req.url === "/") {
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end(`Hello from Node.js ${process.version} (s2i-bot), up ${ms(Date.now() - started)}\n`);
    } else {
      res.statusCode = 404;
      res.end("not found\n");
    }
  })
  .listen(port, () => console.log(`listening on :${port}`));
