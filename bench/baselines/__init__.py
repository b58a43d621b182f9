"""What an operator would reach for instead of resumer: run as scripts, never imported."""
