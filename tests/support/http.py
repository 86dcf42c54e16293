"""The tests' own requests to the bots and fakes they start (plain HTTP on 127.0.0.1), through
one client. httpx's functions (httpx.get, httpx.post) make a client for every request, and
with it an SSL context that loads the CA bundle: 20 to 50 ms a request on this host, for
requests that never use TLS. No connection is kept for another request: servers come and go
between tests, and a later one may listen on the port of an earlier one."""

from __future__ import annotations

import httpx

_client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
get = _client.get
post = _client.post
stream = _client.stream
