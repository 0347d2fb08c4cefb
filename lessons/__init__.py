"""Classroom assignments graded by gradient checks (see lessons/README.md)."""
