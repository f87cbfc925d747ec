"""HTTP and timer bindings. Each blueprint maps requests to the domain; no rules live here."""
