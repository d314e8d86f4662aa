"""Course package: multi-head attention built step by step."""
