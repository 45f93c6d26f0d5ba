"""What every source shares: normalisation of contact values, record building, and the landing zone."""
