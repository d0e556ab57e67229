"""Training rules free of I/O: filtering, weighting, masking, splitting, the evaluation gate."""
