"""Several-server methods: associations over the one-server methods."""
