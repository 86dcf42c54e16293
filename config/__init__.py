"""config/ as the package `bot._config` (pyproject.toml's package-dir): the builder templates
in config/templates/*.yaml ship in the wheel and are the defaults when `templates_dir` is unset.
No code lives here."""
