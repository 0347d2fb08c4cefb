"""Assignment 16: one code path for the CPU and the GPU (moving tensors and models between devices)."""
