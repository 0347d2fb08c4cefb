"""Assignment 13: byte-pair encoding (merge, the training loop, encoding)."""
