"""Developer scripts: sample and benchmark data generators."""
