"""Assignment 14: why scale (counting FLOPs, the IsoFLOP minimum, finding an induction head)."""
