"""Synthetic ground truth: test NLL of a trained flow against the true entropy."""
