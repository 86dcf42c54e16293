"""One module per schema change (bot.migrations)."""
