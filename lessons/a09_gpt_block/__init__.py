"""Assignment 9: the GPT block's forward and the parameter count."""
