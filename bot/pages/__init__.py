"""The bot's pages (the build page, the repository page) and badges, rendered as strings from
plain data: no I/O here, so every byte that reaches a browser is decided in one pure place and
tested as such (tests/unit/test_pages_*.py). bot/web/app.py only fetches and answers."""
