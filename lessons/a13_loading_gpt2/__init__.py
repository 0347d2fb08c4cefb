"""Assignment 13: loading GPT-2 (a checkpoint's names and layouts, its config.json)."""
