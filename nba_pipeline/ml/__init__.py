"""ML phase: the versioned feature store and the points model trained on it."""
