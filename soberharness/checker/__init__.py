"""What should have happened (from an independent model) against what did."""
