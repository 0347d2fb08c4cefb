"""Assignment 11: sampling (top-k, top-p, the draw) and the KV cache."""
