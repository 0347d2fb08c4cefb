"""Instructor-side tests of the assignments themselves: the stubs are unsolved, the graders can fail."""
