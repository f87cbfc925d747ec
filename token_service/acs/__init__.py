"""Azure Communication Services: the one gateway to its Identity API, what it accepts, and pacing under its limits."""
