# First of all the tests' imports (pytest imports this package before tests/conftest.py and
# the bot's modules): bytecode is cached (tests/support/bytecode_cache.py).
from tests.support.bytecode_cache import cache_bytecode

cache_bytecode()
