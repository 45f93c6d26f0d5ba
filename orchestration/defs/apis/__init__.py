"""Assets that sync the tools Dripline reads over their APIs into the landing zone."""
