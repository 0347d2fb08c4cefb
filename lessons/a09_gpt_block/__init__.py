"""Assignment 8: the GPT block's forward and the parameter count."""
