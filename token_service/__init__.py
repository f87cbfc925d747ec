"""The ACS token service: domain logic, registry, caller auth and the Functions blueprints."""
