"""`samvaad`: the command-line client of the Samvaad gRPC API."""
