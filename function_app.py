"""The Functions app: registers the blueprints, nothing else (the worker's settings are parsed and
validated on import, so a bad one stops the start)."""

import azure.functions as func

from token_service import services
from token_service.blueprints import admin, cleanup_timer, meta, operator, user

services.start_worker()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (user.bp, admin.bp, operator.bp, meta.bp, cleanup_timer.bp):
    app.register_blueprint(blueprint)
