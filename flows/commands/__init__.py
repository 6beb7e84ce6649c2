"""One module per `incidents` sub-command; each defines `register(subparsers)`."""
