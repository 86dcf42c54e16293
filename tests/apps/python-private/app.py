"""python-private: answers with the greeting of a package only a private index serves."""

from s2ibot_private_greeting import GREETING


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{GREETING}\n".encode()]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("", 8080, app).serve_forever()
