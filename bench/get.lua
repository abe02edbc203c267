-- wrk script: authenticated GET of the URL given on the command line.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
