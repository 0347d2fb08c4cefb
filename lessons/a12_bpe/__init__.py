"""Assignment 12: byte-pair encoding (merge, the training loop, encoding)."""
