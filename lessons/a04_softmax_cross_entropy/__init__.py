"""Assignment 4: softmax and cross-entropy (the stable forwards, the backward of softmax, log-softmax, cross-entropy)."""
