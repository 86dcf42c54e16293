"""The bot's HTTP routes (bot/web/app.py)."""
