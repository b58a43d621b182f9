"""Measurements beside the scenarios: profiles, costs, and old code run for comparison."""
