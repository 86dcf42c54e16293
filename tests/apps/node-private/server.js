// node-private: answers with the greeting of a package only a private registry serves.
const http = require("http");
const greeting = require("@s2ibot-private/greeting");

http
  .createServer((req, res) => res.end(`${greeting}\n`))
  .listen(Number(process.env.PORT || 8080));
