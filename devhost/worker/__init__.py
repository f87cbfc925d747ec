"""Worker mode: the devhost plays the Functions host and runs the app in `azure-functions-runtime`."""
