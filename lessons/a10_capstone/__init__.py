"""Assignment 10: the capstone: a character GPT trained on Shakespeare with your own code."""
