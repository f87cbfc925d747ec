"""A small function app that exercises what the devhost must host: every trigger shape we use."""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
items = func.Blueprint()


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    """Sync function: echoes what the request looked like to the function."""
    return func.HttpResponse(
        json.dumps({"name": req.params.get("name"), "url": req.url, "method": req.method}),
        mimetype="application/json",
        headers={"X-Fixture": "sync"},
    )


@items.route(route="items/{id}", methods=["GET", "PUT"])
async def item(req: func.HttpRequest) -> func.HttpResponse:
    """Async function with a route parameter; echoes the decoded value and the body."""
    body = req.get_body().decode() if req.get_body() else None
    return func.HttpResponse(
        json.dumps({"id": req.route_params["id"], "method": req.method, "body": body}),
        status_code=201 if req.method == "PUT" else 200,
        mimetype="application/json",
    )


@items.route(route="items/{id}/parts/{part:int}", methods=["GET"])
async def item_part(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="secret", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
async def secret(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("the secret is safe", headers={"Cache-Control": "no-store"})


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("fixture failure with a secret detail")


@app.route(route="plain", methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    return "just a string"


@app.route(route="setting", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    """Shows which local setting won: the file's Values or the process environment."""
    name = req.params["name"]
    return func.HttpResponse(json.dumps({name: os.environ.get(name)}), mimetype="application/json")


@app.function_name("tick")
@app.timer_trigger(schedule="%FIXTURE_SCHEDULE%", arg_name="timer", run_on_startup=False)
async def tick(timer: func.TimerRequest, context: func.Context) -> None:
    """Appends one line per run to FIXTURE_TIMER_LOG: the side effect the tests observe."""
    status = timer.schedule_status or {}
    line = json.dumps(
        {
            "past_due": timer.past_due,
            "function": context.function_name,
            "at": time.time(),
            "pid": os.getpid(),
            "next": status.get("Next"),  # the occurrence this run is for (status before the run)
        }
    )
    with Path(os.environ["FIXTURE_TIMER_LOG"]).open("a", encoding="utf-8") as log:  # noqa: ASYNC230 - tiny
        log.write(line + "\n")


@app.function_name("startup")
@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True, use_monitor=False)
def startup(timer: func.TimerRequest) -> None:
    """runOnStartup without a monitor: one run per host start, with ScheduleStatus null."""
    line = json.dumps({"function": "startup", "past_due": timer.past_due, "status": timer.schedule_status,
                       "pid": os.getpid()})  # fmt: skip
    with Path(os.environ["FIXTURE_TIMER_LOG"]).open("a", encoding="utf-8") as log:
        log.write(line + "\n")


app.register_functions(items)
