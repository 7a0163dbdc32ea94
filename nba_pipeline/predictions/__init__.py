"""Predictions phase: points-prop recommendations before the game and their grading after it."""
