"""Training rules free of I/O: filtering, weighting, masking, splitting, bucketing, the evaluation gate,
job records, Modelfile and manifest."""
