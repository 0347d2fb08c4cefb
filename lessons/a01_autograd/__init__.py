"""Assignment 1: autograd from scratch: scalar.py and chain_rule.py, with npgpt/ops/elementwise.py (tasks in tasks.toml)."""
