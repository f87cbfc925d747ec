"""The Functions app: registers the blueprints, nothing else (settings are validated on import)."""

import azure.functions as func

from token_service import startup
from token_service.blueprints import admin, cleanup_timer, meta, operator, user

startup.validate_settings()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (user.bp, admin.bp, operator.bp, meta.bp, cleanup_timer.bp):
    app.register_blueprint(blueprint)
