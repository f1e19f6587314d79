"""Layout: a multi-class pixel classifier (one UNet for every layer) and its data."""
