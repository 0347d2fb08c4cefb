"""Assignment 3: broadcasting, reductions, matmul (unbroadcast, the backward of sum, mean, max and matmul)."""
