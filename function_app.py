"""The Functions app: registers the blueprints, nothing else (settings are validated on import)."""

import azure.functions as func

from token_service.blueprints import admin_routes, cleanup_timer, meta_routes, operator_routes, startup, user_routes

startup.validate_settings()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (user_routes.bp, admin_routes.bp, operator_routes.bp, meta_routes.bp, cleanup_timer.bp):
    app.register_blueprint(blueprint)
