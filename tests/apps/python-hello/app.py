"""python-hello: a tiny WSGI application used by s2i-bot's tests.

Served by gunicorn (requirements.txt, APP_MODULE=app:app in .s2i/environment), so the build
proves pip installs from PyPI; `python app.py` serves it with the standard library alone.
"""

import os
import sys


def app(environ, start_response):
    if environ.get("PATH_INFO", "/") == "/healthz":
        body = b"ok\n"
    elif environ.get("PATH_INFO", "/") == "/":
        version = ".".join(map(str, sys.version_info[:3]))
        body = f"Hello from Python {version} (s2i-bot)\n".encode()
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    port = int(os.environ.get("PORT", "8080"))
    print(f"listening on :{port}", flush=True)
    make_server("", port, app).serve_forever()
